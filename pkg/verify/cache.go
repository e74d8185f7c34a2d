package verify

import (
	"container/list"
	"sync"
	"time"
)

// cache holds values (verification results, tag digests, pull
// credentials) until they expire, at most size of them; when full, the
// least recently used goes.
type cache[V any] struct {
	mu    sync.Mutex
	size  int
	order *list.List // of *entry, most recently used first
	byKey map[string]*list.Element
}

type entry[V any] struct {
	key     string
	v       V
	expires time.Time
}

func newCache[V any](size int) *cache[V] {
	return &cache[V]{size: size, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *cache[V]) get(key string, now time.Time) (V, bool) {
	var zero V
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*entry[V])
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.byKey, key)
		return zero, false
	}
	c.order.MoveToFront(el)
	return e.v, true
}

func (c *cache[V]) put(key string, v V, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		el.Value = &entry[V]{key: key, v: v, expires: expires}
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(&entry[V]{key: key, v: v, expires: expires})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*entry[V]).key)
	}
}

func (c *cache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
