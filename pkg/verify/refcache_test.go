package verify

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// sameAsParseReference fails unless got (from the cache) is what
// name.ParseReference returns for image.
func sameAsParseReference(t *testing.T, image string, got parsedRef, gotErr error) {
	t.Helper()
	want, wantErr := name.ParseReference(image)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, ParseReference's %v", image, gotErr, wantErr)
	}
	if wantErr != nil {
		var gotBad, wantBad *name.ErrBadName
		if gotErr.Error() != wantErr.Error() || errors.As(gotErr, &gotBad) != errors.As(wantErr, &wantBad) {
			t.Errorf("%q: error %#v, ParseReference's %#v", image, gotErr, wantErr)
		}
		if got.ref != nil {
			t.Errorf("%q: reference %v with an error", image, got.ref)
		}
		return
	}
	if !reflect.DeepEqual(got.ref, want) { // same dynamic type and fields
		t.Errorf("%q: %#v, ParseReference's %#v", image, got.ref, want)
	}
	if got.repo != want.Context().Name() || got.name != want.Name() {
		t.Errorf("%q: repo %q name %q, want %q %q", image, got.repo, got.name, want.Context().Name(), want.Name())
	}
}

func TestRefCacheParsesAsParseReference(t *testing.T) {
	// Repository names have at most 255 characters, registry names no limit.
	long := strings.Repeat("r", refCacheMaxLen) + ".example.com/app:v1"
	for _, tc := range []struct {
		image string
		valid bool
	}{
		{"nginx", true},
		{"nginx:1.27", true},
		{"docker.io/nginx", true},
		{"index.docker.io/library/nginx:latest", true},
		{"ghcr.io/org/app:v1", true},
		{"localhost:5000/a/b:1", true},
		{"127.0.0.1:5000/ab", true},
		{"127.0.0.1:5000/a", false}, // repository names have at least 2 characters
		{"registry.example.com/team-a/app@" + testDigest, true},
		{"registry.example.com/team-a/app:v1@" + testDigest, true},
		{"busybox@" + testDigest, true},
		{"", false},
		{"Bad Ref", false},
		{"registry.example.com/Team-A/App:v1", false},
		{"app@sha256:short", false},
		{"app:" + strings.Repeat("t", 200), false}, // tags have at most 128 characters
		{"app::v1", false},
		{long, true}, // valid, but too long to be kept
		{long + "@", false},
	} {
		t.Run(tc.image[:min(len(tc.image), 60)], func(t *testing.T) {
			c := newRefCache(8, refCacheMaxLen)
			// A miss, then (for what is kept) a hit.
			for i := range 2 {
				p, err := c.parse(tc.image)
				sameAsParseReference(t, tc.image, p, err)
				if (err == nil) != tc.valid {
					t.Fatalf("parse %d of %q: error %v, want valid=%v", i, tc.image, err, tc.valid)
				}
			}
			wantKept := 0
			if tc.valid && len(tc.image) <= refCacheMaxLen {
				wantKept = 1
			}
			if n := c.len(); n != wantKept {
				t.Errorf("cache holds %d entries, want %d (errors and long strings are not kept)", n, wantKept)
			}
		})
	}
}

func TestRefCacheIsBounded(t *testing.T) {
	const size = 8
	c := newRefCache(size, refCacheMaxLen)
	for i := range 100 {
		image := fmt.Sprintf("registry.example.com/app-%d:v1", i)
		p, err := c.parse(image)
		sameAsParseReference(t, image, p, err)
		if n := c.len(); n > size {
			t.Fatalf("after %d images the cache holds %d entries, bound is %d", i+1, n, size)
		}
		// The entry just added is kept.
		c.mu.RLock()
		_, ok := c.m[image]
		c.mu.RUnlock()
		if !ok {
			t.Fatalf("%q was not kept", image)
		}
	}
	if n := c.len(); n != size {
		t.Errorf("cache holds %d entries, want it full (%d)", n, size)
	}
	// A nil cache parses every time.
	var none *refCache
	p, err := none.parse("nginx")
	sameAsParseReference(t, "nginx", p, err)
}

// TestRefCacheConcurrent parses more images than the cache holds from many
// goroutines at once (run with -race): every answer is ParseReference's.
func TestRefCacheConcurrent(t *testing.T) {
	c := newRefCache(16, refCacheMaxLen)
	var images []string
	for i := range 64 {
		switch i % 4 {
		case 0:
			images = append(images, fmt.Sprintf("registry.example.com/app-%d:v1", i))
		case 1:
			images = append(images, fmt.Sprintf("team/app-%d@%s", i, testDigest))
		case 2:
			images = append(images, fmt.Sprintf("Invalid-%d:", i))
		case 3:
			images = append(images, fmt.Sprintf("app-%d", i%8)) // shared, hot
		}
	}
	want := make(map[string]parsedRef, len(images))
	for _, img := range images {
		if p, err := parseRef(img); err == nil {
			want[img] = p
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				img := images[(g*7+i)%len(images)]
				p, err := c.parse(img)
				w, valid := want[img]
				if valid != (err == nil) || (valid && !reflect.DeepEqual(p, w)) {
					t.Errorf("%q: %#v %v, want %#v (valid=%v)", img, p, err, w, valid)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := c.len(); n > 16 {
		t.Errorf("cache holds %d entries, bound is 16", n)
	}
}

// TestVerifyAllAsVerify checks that VerifyAll, which answers invalid,
// unmatched and cached images without goroutines, returns for each
// distinct image what Verify does, and counts each once.
func TestVerifyAllAsVerify(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	images := []string{
		w.signedA.Name(), // cached below
		w.signedA.Name(),
		w.signedEd.Name(), // not cached
		w.reg.Image("team-a/app", "v1"),
		w.reg.Image("elsewhere/app", "v1"),
		w.reg.Host + "/Team-A/App:v1",
		w.reg.Image("team-a/app", "missing"),
	}
	ref := New(w.policy(t, nil), Options{})
	want := map[string]Result{}
	for _, img := range images {
		want[img] = ref.Verify(ctx, img, Pull{})
	}
	for _, tc := range []struct {
		name   string
		images []string
	}{
		{"all", images},
		{"one pending image", images[2:3]},
		{"only answers without the registry", []string{images[0], images[4], images[5]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics()
			v := New(w.policy(t, nil), Options{Metrics: m})
			v.Verify(ctx, w.signedA.Name(), Pull{}) // cache it
			before := countResults(m)
			got := v.VerifyAll(ctx, tc.images, Pull{})
			distinct := map[string]bool{}
			for _, img := range tc.images {
				distinct[img] = true
			}
			if len(got) != len(distinct) {
				t.Errorf("%d results for %d distinct images", len(got), len(distinct))
			}
			for img := range distinct {
				g, wnt := got[img], want[img]
				if g.Outcome != wnt.Outcome || g.Image != img || g.Reference != wnt.Reference || ruleIndex(g) != ruleIndex(wnt) || g.Error != wnt.Error {
					t.Errorf("%s: VerifyAll %+v, Verify %+v", img, g, wnt)
				}
			}
			if n := countResults(m) - before; n != float64(len(distinct)) {
				t.Errorf("%v results counted for %d distinct images", n, len(distinct))
			}
		})
	}
}

func countResults(m *Metrics) float64 {
	var n float64
	for _, o := range []Outcome{Verified, Unsigned, Untrusted, Unreachable, Unmatched, Invalid} {
		n += testutil.ToFloat64(m.results.WithLabelValues(string(o)))
	}
	return n
}

// TestCachedVerdictIgnoresDeadline: a cached verdict is returned even when
// the caller's context is already done (as before: the cache is consulted
// before any registry work), and a digest that is not cached still gets the
// timeout.
func TestCachedVerdictIgnoresDeadline(t *testing.T) {
	w := newWorld(t)
	v := New(w.policy(t, nil), Options{})
	if r := v.Verify(context.Background(), w.signedA.Name(), Pull{}); r.Outcome != Verified {
		t.Fatalf("outcome %s %q", r.Outcome, r.Error)
	}
	done, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if r := v.Verify(done, w.signedA.Name(), Pull{}); r.Outcome != Verified {
		t.Errorf("cached, context done: %s %q, want verified", r.Outcome, r.Error)
	}
	if r := v.Verify(done, w.signedEd.Name(), Pull{}); r.Outcome != Unreachable || !strings.Contains(r.Error, "did not answer within") {
		t.Errorf("not cached, context done: %s %q, want unreachable with the timeout named", r.Outcome, r.Error)
	}
}
