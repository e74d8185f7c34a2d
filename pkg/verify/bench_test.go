package verify

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/microguard/microguard/pkg/verify/verifytest"
)

// signedImage is a registry holding one image signed with a key, and a
// policy trusting that key for it.
func signedImage(b *testing.B) (*verifytest.Registry, name.Digest, *Policy) {
	reg := verifytest.StartRegistry(b)
	key := verifytest.NewKey(b, "ecdsa")
	d := reg.Push(b, "team-a/app", "v1")
	verifytest.Sign(b, d, key)
	p, err := ParsePolicy(context.Background(), map[string]any{"rules": []any{
		map[string]any{"images": []any{reg.Host + "/team-a/*"}, "keys": []any{string(key.PublicPEM)}, "tlog": false},
	}})
	if err != nil {
		b.Fatal(err)
	}
	return reg, d, p
}

// BenchmarkVerifyCold verifies a signed digest with an empty cache each
// time: the signature manifest and layer are fetched from the loopback
// registry and the ECDSA signature is checked.
func BenchmarkVerifyCold(b *testing.B) {
	_, d, p := signedImage(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v := New(p, Options{})
		if r := v.Verify(ctx, d.Name(), Pull{}); r.Outcome != Verified {
			b.Fatalf("%s %s", r.Outcome, r.Error)
		}
	}
}

// BenchmarkVerifyCached verifies a digest whose verification is cached:
// no registry access at all.
func BenchmarkVerifyCached(b *testing.B) {
	v, image := cachedVerifier(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := v.Verify(ctx, image, Pull{}); r.Outcome != Verified {
			b.Fatalf("%s %s", r.Outcome, r.Error)
		}
	}
}

// cachedVerifier is a verifier that has verified image, whose registry is
// gone: a cache hit must not need it.
func cachedVerifier(b *testing.B) (*Verifier, string) {
	reg, d, p := signedImage(b)
	v := New(p, Options{})
	if r := v.Verify(context.Background(), d.Name(), Pull{}); r.Outcome != Verified {
		b.Fatalf("%s %s", r.Outcome, r.Error)
	}
	reg.Close()
	return v, d.Name()
}

// BenchmarkResolve pins a tag to its digest for the mutating webhook: at
// the loopback registry each time (tagCacheTTL 0s), and from the tag cache
// (a Deployment scaling up), where the registry is not needed at all.
func BenchmarkResolve(b *testing.B) {
	for _, tc := range []struct {
		name, ttl string
	}{{"registry", "0s"}, {"tag-cache", "30s"}} {
		b.Run(tc.name, func(b *testing.B) {
			reg, d, p := signedImage(b)
			var err error
			if p.TagCacheTTL, err = time.ParseDuration(tc.ttl); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			v := New(p, Options{})
			image := reg.Image("team-a/app", "v1")
			want := image + "@" + d.DigestStr()
			if r := v.Verify(ctx, want, Pull{}); r.Outcome != Verified {
				b.Fatalf("%s %s", r.Outcome, r.Error)
			}
			if got, err := v.Resolve(ctx, image, Pull{}); err != nil || got != want {
				b.Fatalf("pinned %q, %v", got, err)
			}
			if p.TagCacheTTL > 0 {
				reg.Close() // a tag cache hit must not need the registry
			}
			b.ReportAllocs()
			for b.Loop() {
				if got, err := v.Resolve(ctx, image, Pull{}); err != nil || got != want {
					b.Fatalf("pinned %q, %v", got, err)
				}
			}
		})
	}
}

// BenchmarkVerifyCachedParallel is BenchmarkVerifyCached from all CPUs at
// once, as concurrent admission requests are: the caches are shared.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	v, image := cachedVerifier(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := v.Verify(ctx, image, Pull{}); r.Outcome != Verified {
				b.Errorf("%s %s", r.Outcome, r.Error)
				return
			}
		}
	})
}

// BenchmarkVerifyAllCached verifies the images of a pod (three containers,
// two images, both verified before): no registry access at all.
func BenchmarkVerifyAllCached(b *testing.B) {
	reg, d, p := signedImage(b)
	key := verifytest.NewKey(b, "ecdsa")
	d2 := reg.Push(b, "team-a/sidecar", "v1")
	verifytest.Sign(b, d2, key)
	p.Rules[0].Keys = append(p.Rules[0].Keys, &Key{Name: "sidecar key", Verifier: key.SV})
	ctx := context.Background()
	v := New(p, Options{})
	images := []string{d.Name(), d2.Name(), d.Name()}
	check := func() {
		for img, r := range v.VerifyAll(ctx, images, Pull{}) {
			if r.Outcome != Verified {
				b.Fatalf("%s: %s %s", img, r.Outcome, r.Error)
			}
		}
	}
	check()
	reg.Close()
	b.ReportAllocs()
	for b.Loop() {
		check()
	}
}
