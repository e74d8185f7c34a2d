package policy

import (
	"math"
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

// A number is held as the number OPA writes, or refused: never rounded or
// rewritten (OPA's sprintf writes 1.0 as 1.0).
func TestPlanNumbers(t *testing.T) {
	for s, want := range map[string]any{"1": int64(1), "-3": int64(-3), "0.5": 0.5, "0.1": 0.1, "1e+20": 1e20,
		"9223372036854775807": int64(9223372036854775807)} {
		got, err := irNumber(s)
		if err != nil || got != want {
			t.Errorf("irNumber(%s) = %v, %v; want %v", s, got, err, want)
			continue
		}
		if v, err := irToAST(got); err != nil || v.String() != s {
			t.Errorf("irNumber(%s) goes back to OPA as %v, %v", s, v, err)
		}
	}
	for _, s := range []string{"-0", "1e3", "1.0", "01", "+1", "1e400", "0.1000000000000000000001", "9223372036854775809", "x"} {
		if got, err := irNumber(s); err == nil {
			t.Errorf("irNumber(%s) = %v, want an error", s, got)
		}
	}
}

// Numbers compare as the decimals OPA writes for them: 2^60 as a float64
// is 1.152921504606847e+18, so it equals that integer and hashes as it.
func TestPlanLargeFloats(t *testing.T) {
	f := float64(1 << 60)
	i := int64(1152921504606847000)
	if irCompare(f, i) != 0 || !irEqual(f, i) || irHash(f) != irHash(i) {
		t.Errorf("%v and %d: compare %d, hash %x and %x", f, i, irCompare(f, i), irHash(f), irHash(i))
	}
	if irEqual(f, int64(1<<60)) {
		t.Errorf("%v equals 2^60, which OPA writes otherwise", f)
	}
	if s := (&irSet{}); true {
		for k := range 20 {
			s.add(int64(k))
		}
		s.add(f)
		s.add(i)
		if len(s.keys) != 21 {
			t.Errorf("a set of 20 small integers, 2^60 as a float64 and %d has %d members, want 21", i, len(s.keys))
		}
	}
}

// A value goes to OPA's builtins written as topdown's input conversion
// writes it (sprintf and json.marshal see that text).
func TestPlanValuesAreWrittenAsOPAWritesThem(t *testing.T) {
	for _, v := range []any{1e6, 1e21, float64(1 << 60), 0.1, math.Copysign(0, -1), int64(-3), 3, []string{"a"},
		map[string]string{"k": "v"}, []any{nil, 1.5}, map[string]any{"n": nil}} {
		want, err := ast.InterfaceToValue(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := irToAST(irElem(v))
		if err != nil || got.String() != want.String() {
			t.Errorf("%#v goes to OPA as %v (%v), topdown's input has %v", v, got, err, want)
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
