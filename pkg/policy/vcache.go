package policy

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// virtualCache is topdown's cache of the values of rules (virtual
// documents) within one evaluation, with topdown's semantics (see
// topdown.NewVirtualCache), kept in flat slices and a hash index that are
// reused from one evaluation to the next. topdown's own is a trie with a
// hash map on every node, allocated anew for each evaluation: about a
// third of the allocations of evaluating a compliant pod.
type virtualCache struct {
	frames []cacheFrame
	// terms holds the cached refs' terms, one after the other: an entry
	// keeps the range of its ref, not the caller's slice (topdown reuses
	// it).
	terms []*ast.Term
}

// cacheFrame is one frame of the stack (topdown pushes one for each with
// statement): a lookup sees the top frame only.
type cacheFrame struct {
	entries []cacheEntry
	index   map[int]int32 // ref hash -> 1 + index of the newest entry with it
	terms   int           // len(terms) when the frame was pushed
}

type cacheEntry struct {
	start, end int32 // the ref is terms[start:end]
	next       int32 // 1 + index of the previous entry with the same hash, 0 for none
	value      *ast.Term
	undefined  bool
}

var _ topdown.VirtualCache = (*virtualCache)(nil)

var virtualCaches = sync.Pool{New: func() any {
	c := &virtualCache{}
	c.Push()
	return c
}}

// newVirtualCache is an empty cache, from the pool; release returns it.
func newVirtualCache() *virtualCache { return virtualCaches.Get().(*virtualCache) }

// release empties c and returns it to the pool. c must not be used after.
func (c *virtualCache) release() {
	for len(c.frames) > 1 {
		c.Pop()
	}
	f := &c.frames[0]
	clear(f.entries)
	f.entries = f.entries[:0]
	clear(f.index)
	clear(c.terms)
	c.terms = c.terms[:0]
	virtualCaches.Put(c)
}

func (c *virtualCache) Push() {
	c.frames = append(c.frames, cacheFrame{terms: len(c.terms)})
}

func (c *virtualCache) Pop() {
	f := c.frames[len(c.frames)-1]
	clear(c.terms[f.terms:])
	c.terms = c.terms[:f.terms]
	c.frames[len(c.frames)-1] = cacheFrame{}
	c.frames = c.frames[:len(c.frames)-1]
}

// find is the index of ref's entry in f, -1 when there is none.
func (c *virtualCache) find(f *cacheFrame, ref ast.Ref, h int) int {
	for i := f.index[h]; i != 0; i = f.entries[i-1].next {
		e := &f.entries[i-1]
		if ast.Ref(c.terms[e.start:e.end]).Equal(ref) {
			return int(i - 1)
		}
	}
	return -1
}

// Get is as topdown's: nil, true for a ref cached as undefined; the value
// and false for one cached as defined; nil, false for one not cached.
func (c *virtualCache) Get(ref ast.Ref) (*ast.Term, bool) {
	f := &c.frames[len(c.frames)-1]
	if len(f.entries) == 0 {
		return nil, false
	}
	i := c.find(f, ref, ref.Hash())
	if i < 0 {
		return nil, false
	}
	e := &f.entries[i]
	if e.undefined {
		return nil, true
	}
	return e.value, false
}

// Put is as topdown's: a nil value marks ref undefined (and, as there, a
// ref once marked undefined stays so).
func (c *virtualCache) Put(ref ast.Ref, value *ast.Term) {
	f := &c.frames[len(c.frames)-1]
	h := ref.Hash()
	i := c.find(f, ref, h)
	if i < 0 {
		if f.index == nil {
			f.index = map[int]int32{}
		}
		start := len(c.terms)
		c.terms = append(c.terms, ref...)
		f.entries = append(f.entries, cacheEntry{start: int32(start), end: int32(len(c.terms)), next: f.index[h]})
		i = len(f.entries) - 1
		f.index[h] = int32(i + 1)
	}
	if value != nil {
		f.entries[i].value = value
	} else {
		f.entries[i].undefined = true
	}
}

// Keys are the refs cached with a value in the top frame.
func (c *virtualCache) Keys() []ast.Ref {
	f := &c.frames[len(c.frames)-1]
	var keys []ast.Ref
	for _, e := range f.entries {
		if e.value != nil {
			keys = append(keys, append(ast.Ref(nil), c.terms[e.start:e.end]...))
		}
	}
	return keys
}
