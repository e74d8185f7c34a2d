package policy

import (
	"math/rand/v2"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// randomValue is a random value of the plan evaluator: input-like maps
// and slices (with JSON nulls as nil) and the evaluator's own arrays,
// objects and sets, from a small alphabet so that equal values are common.
func randomValue(r *rand.Rand, depth int) any {
	n := 9
	if depth <= 0 {
		n = 5
	}
	switch r.IntN(n) {
	case 0:
		return irNull
	case 1:
		return r.IntN(2) == 0
	case 2:
		return int64(r.IntN(5) - 2)
	case 3:
		return []float64{-1.5, 0.5, 1, 2, 1e20}[r.IntN(5)]
	case 4:
		return []string{"", "a", "b", "ab", "é"}[r.IntN(5)]
	case 5:
		a := make([]any, r.IntN(3))
		for i := range a {
			if v := randomValue(r, depth-1); v != irNull || r.IntN(2) == 0 {
				a[i] = v
			} // else nil: a JSON null inside an input array
		}
		if r.IntN(2) == 0 {
			return a
		}
		for i := range a {
			a[i] = irElem(a[i])
		}
		return &irArray{elems: a}
	case 6:
		m := map[string]any{}
		for range r.IntN(3) {
			m[[]string{"", "a", "b", "ab", "é"}[r.IntN(5)]] = randomValue(r, depth-1)
		}
		return m
	case 7:
		o := &irObject{}
		for range r.IntN(12) {
			o.insert(randomValue(r, depth-1), randomValue(r, depth-1))
		}
		return o
	default:
		s := &irSet{}
		for range r.IntN(12) {
			s.add(randomValue(r, depth-1))
		}
		return s
	}
}

// The evaluator's values order, compare and hash as their OPA values do
// (ast.Compare), and go to OPA values and back unchanged.
func TestPlanValuesAreOPAValues(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	str := func() any { return randomValue(r, 2) }
	for i := range 20000 {
		a, b := str(), str()
		if i%3 == 0 {
			b = a
		}
		av, err := irToAST(a)
		if err != nil {
			t.Fatal(err)
		}
		bv, err := irToAST(b)
		if err != nil {
			t.Fatal(err)
		}
		want := ast.Compare(av, bv)
		if got := irCompare(a, b); sign(got) != sign(want) {
			t.Fatalf("irCompare(%v, %v) = %d, ast.Compare = %d", av, bv, got, want)
		}
		if got := irEqual(a, b); got != (want == 0) {
			t.Fatalf("irEqual(%v, %v) = %v, ast.Compare = %d", av, bv, got, want)
		}
		if want == 0 && irHash(a) != irHash(b) {
			t.Fatalf("equal values %v and %v hash differently", av, bv)
		}
		back, err := irFromAST(av)
		if err != nil {
			t.Fatal(err)
		}
		if !irEqual(back, a) || irCompare(back, a) != 0 || irHash(back) != irHash(a) {
			t.Fatalf("%v went to OPA and came back as %v", av, back)
		}
	}
}

// A number constant is the number it writes, or refused: never rounded.
func TestPlanNumbers(t *testing.T) {
	for s, want := range map[string]any{"1": int64(1), "-0": int64(0), "0.5": 0.5, "0.1": 0.1, "1e3": float64(1000), "9223372036854775807": int64(9223372036854775807)} {
		if got, err := irNumber(s); err != nil || got != want {
			t.Errorf("irNumber(%s) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"1e400", "0.1000000000000000000001", "9223372036854775809", "x"} {
		if got, err := irNumber(s); err == nil {
			t.Errorf("irNumber(%s) = %v, want an error", s, got)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
