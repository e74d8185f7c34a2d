package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestVirtualCacheMatchesTopdown runs random sequences of Push, Pop, Put,
// Get and Keys on the engine's cache and on topdown's own, and requires the
// same answers: refs that share prefixes, that extend each other, that are
// cached as undefined and then defined, and frames pushed and popped.
func TestVirtualCacheMatchesTopdown(t *testing.T) {
	refs := []ast.Ref{
		ast.MustParseRef("data.microguard.policies.pod_security.level"),
		ast.MustParseRef("data.microguard.policies.pod_security.check"),
		ast.MustParseRef(`data.microguard.policies.pod_security.check["privileged"]`),
		ast.MustParseRef(`data.microguard.policies.pod_security.check["hostPorts"]`),
		ast.MustParseRef("data.microguard.policies.owner_labels.required"),
		ast.MustParseRef("data.microguard.lib.describe"),
		ast.MustParseRef("data.microguard.policies.pod_security.pod_flags[0]"),
		ast.MustParseRef("data.microguard.policies.pod_security.pod_flags[1]"),
	}
	values := []*ast.Term{nil, ast.StringTerm("restricted"), ast.IntNumberTerm(1), ast.SetTerm(ast.StringTerm("x"))}
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, seed))
		ours, theirs := newVirtualCache(), topdown.NewVirtualCache()
		depth := 1
		for step := range 60 {
			where := fmt.Sprintf("seed %d step %d", seed, step)
			switch op := rng.IntN(10); {
			case op == 0:
				ours.Push()
				theirs.Push()
				depth++
			case op == 1 && depth > 1:
				ours.Pop()
				theirs.Pop()
				depth--
			case op < 6:
				// A copy that the caller then overwrites: the cache must
				// keep its own.
				ref := slices.Clone(refs[rng.IntN(len(refs))])
				v := values[rng.IntN(len(values))]
				ours.Put(ref, v)
				theirs.Put(ref, v)
				ref[len(ref)-1] = ast.StringTerm("overwritten")
			case op < 9:
				ref := refs[rng.IntN(len(refs))]
				gv, gu := ours.Get(ref)
				wv, wu := theirs.Get(ref)
				if gu != wu || !sameTerm(gv, wv) {
					t.Fatalf("%s: Get(%v) = %v, %v; topdown's gives %v, %v", where, ref, gv, gu, wv, wu)
				}
			default:
				got, want := refStrings(ours.Keys()), refStrings(theirs.Keys())
				if !slices.Equal(got, want) {
					t.Fatalf("%s: Keys() = %v; topdown's gives %v", where, got, want)
				}
			}
		}
		ours.release()
	}
}

// TestVirtualCacheReleased checks that a cache from the pool starts empty.
func TestVirtualCacheReleased(t *testing.T) {
	ref := ast.MustParseRef("data.microguard.lib.describe")
	c := newVirtualCache()
	c.Put(ref, ast.StringTerm("Pod \"web\""))
	c.Push()
	c.Put(ref, nil)
	c.release()
	for range 4 {
		c := newVirtualCache()
		if v, undefined := c.Get(ref); v != nil || undefined || len(c.Keys()) != 0 || len(c.frames) != 1 {
			t.Fatalf("a cache from the pool holds %v, %v, keys %v, %d frames", v, undefined, c.Keys(), len(c.frames))
		}
		c.release()
	}
}

func sameTerm(a, b *ast.Term) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

func refStrings(refs []ast.Ref) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	slices.Sort(out)
	return out
}
