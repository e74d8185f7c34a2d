package verify

import (
	"context"
	"testing"

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
	reg, d, p := signedImage(b)
	ctx := context.Background()
	v := New(p, Options{})
	if r := v.Verify(ctx, d.Name(), Pull{}); r.Outcome != Verified {
		b.Fatalf("%s %s", r.Outcome, r.Error)
	}
	reg.Close() // a cache hit must not need the registry
	b.ReportAllocs()
	for b.Loop() {
		if r := v.Verify(ctx, d.Name(), Pull{}); r.Outcome != Verified {
			b.Fatalf("%s %s", r.Outcome, r.Error)
		}
	}
}
