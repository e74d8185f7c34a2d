package verify

import (
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// Parsing an image reference costs microseconds (name.ParseReference tries
// it as a tag, then as a digest, validating each part), and every admission
// request parses every image of its pod, which are the same few strings
// again and again. refCache remembers what name.ParseReference (with its
// default options: the verifier passes none) returned for them.
//
// An attacker chooses the image strings, so the cache is bounded: at most
// refCacheSize entries, evicting an arbitrary one when full, and a string
// longer than refCacheMaxLen (no registry accepts one that long) is parsed
// each time and never kept. Errors are not kept either: an invalid image is
// parsed again, with its error built afresh, exactly as before.
const (
	refCacheSize   = 4096
	refCacheMaxLen = 512
)

// parsedRef is a parsed image reference and the names derived from it that
// verification uses, computed once.
type parsedRef struct {
	ref  name.Reference // as name.ParseReference returned it
	repo string         // ref.Context().Name(), what rules match
	name string         // ref.Name()
}

func newParsedRef(ref name.Reference) parsedRef {
	return parsedRef{ref: ref, repo: ref.Context().Name(), name: ref.Name()}
}

// refCache is safe for concurrent use. A nil *refCache parses every time.
type refCache struct {
	size, maxLen int
	mu           sync.RWMutex
	m            map[string]parsedRef
}

func newRefCache(size, maxLen int) *refCache {
	return &refCache{size: size, maxLen: maxLen, m: make(map[string]parsedRef)}
}

// parse returns name.ParseReference(image) with the derived names; the
// Reference is a name.Tag or name.Digest value, which nobody can modify
// through the interface, so sharing it between callers is safe.
func (c *refCache) parse(image string) (parsedRef, error) {
	if c == nil || len(image) > c.maxLen {
		return parseRef(image)
	}
	c.mu.RLock()
	p, ok := c.m[image]
	c.mu.RUnlock()
	if ok {
		return p, nil
	}
	p, err := parseRef(image)
	if err != nil {
		return parsedRef{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[image]; !ok && len(c.m) >= c.size {
		// Evict one entry; map iteration starts at a random place.
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[image] = p
	return p, nil
}

func (c *refCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

func parseRef(image string) (parsedRef, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return parsedRef{}, err
	}
	return newParsedRef(ref), nil
}
