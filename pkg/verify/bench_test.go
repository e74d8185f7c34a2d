package verify

import (
	"context"
	"testing"

	"github.com/microguard/microguard/pkg/verify/verifytest"
)

// BenchmarkVerifyCold verifies a signed digest with an empty cache each
// time: the signature manifest and layer are fetched from the loopback
// registry and the ECDSA signature is checked.
func BenchmarkVerifyCold(b *testing.B) {
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
