package policy

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"math"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The values the plan evaluator (irvm.go) works on are Go values, so that
// the input document, as admission decodes it, is read as it is and never
// converted:
//
//   - nil: undefined (a local that holds no value);
//   - null (irNull): JSON null (a nil inside an input map or array reads
//     as it);
//   - bool, string;
//   - int64 and float64: numbers (an integral float64 equals the int64);
//   - []any and map[string]any: arrays and objects of the input and the
//     data, never changed;
//   - *irArray, *irObject, *irSet: the arrays, objects and sets that the
//     plan builds (its statements append and insert into them).
//
// Equality, order and hashing are OPA's (ast.Compare): null < booleans <
// numbers < strings < arrays < objects < sets; objects and sets iterate in
// that order of their keys, as topdown's do.

type irNullType struct{}

var irNull = irNullType{}

type irArray struct{ elems []any }

type irObject struct {
	irKeys
	vals   []any // vals[i] is the value of keys[i]
	sorted bool
}

type irSet struct {
	irKeys // the members
	sorted bool
}

// irKeys are the distinct keys of an object or members of a set, looked
// for one by one up to irLinear of them, then by hash.
type irKeys struct {
	keys  []any
	index map[uint64][]int
}

// irLinear is how many members an object or set looks through one by one
// before it indexes them by hash.
const irLinear = 8

var irSeed = maphash.MakeSeed()

// irElem is a member of an input or data document as the evaluator reads
// it: JSON null as irNull, and any other Go value than the decoder's (an
// int of the Pod Security gate, a []string) as ast.InterfaceToValue reads
// it for topdown.
func irElem(v any) any {
	switch v.(type) {
	case string, bool, int64, float64, map[string]any, []any, irNullType, *irArray, *irObject, *irSet:
		return v
	case nil:
		return irNull
	}
	return irForeign(v)
}

// irPanic carries an error out of a read that cannot return one (irElem);
// the evaluation recovers it as its error.
type irPanic struct{ err error }

func irForeign(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case uint32:
		return int64(v)
	}
	a, err := ast.InterfaceToValue(v)
	if err == nil {
		var x any
		if x, err = irFromAST(a); err == nil {
			return x
		}
	}
	panic(irPanic{fmt.Errorf("input value %T: %w", v, err)})
}

func irSortOrder(v any) int {
	switch v.(type) {
	case irNullType:
		return 0
	case bool:
		return 1
	case int64, float64:
		return 2
	case string:
		return 3
	case []any, *irArray:
		return 7
	case map[string]any, *irObject:
		return 8
	case *irSet:
		return 9
	}
	panic(fmt.Sprintf("policy: no plan value of type %T", v))
}

// irCompare orders a and b as ast.Compare orders their OPA values.
func irCompare(a, b any) int {
	if c := cmp.Compare(irSortOrder(a), irSortOrder(b)); c != 0 {
		return c
	}
	switch a := a.(type) {
	case irNullType:
		return 0
	case bool:
		bb := b.(bool)
		switch {
		case a == bb:
			return 0
		case !a:
			return -1
		}
		return 1
	case int64, float64:
		return irCompareNumbers(a, b)
	case string:
		return cmp.Compare(a, b.(string))
	case []any, *irArray:
		return slices.CompareFunc(irElems(a), irElems(b), func(x, y any) int { return irCompare(irElem(x), irElem(y)) })
	case map[string]any, *irObject:
		ak, bk := irSortedKeys(a), irSortedKeys(b)
		for i := range min(len(ak), len(bk)) {
			if c := irCompare(ak[i], bk[i]); c != 0 {
				return c
			}
			if c := irCompare(irGet(a, ak[i]), irGet(b, bk[i])); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(ak), len(bk))
	case *irSet:
		bs := b.(*irSet)
		return slices.CompareFunc(a.sortedElems(), bs.sortedElems(), irCompare)
	}
	panic(fmt.Sprintf("policy: no plan value of type %T", a))
}

// irCompareNumbers compares numbers as OPA compares their text: a
// float64 stands for the decimal its shortest form writes (as
// ast.InterfaceToValue writes it for topdown), so 2^60 as a float64 equals
// 1152921504606847000.
func irCompareNumbers(a, b any) int {
	switch a := a.(type) {
	case int64:
		switch b := b.(type) {
		case int64:
			return cmp.Compare(a, b)
		case float64:
			if irSmallIntegral(b) {
				return cmp.Compare(a, int64(b))
			}
		}
	case float64:
		switch b := b.(type) {
		case float64:
			return cmp.Compare(a, b)
		case int64:
			if irSmallIntegral(a) {
				return cmp.Compare(int64(a), b)
			}
		}
	}
	return irRat(a).Cmp(irRat(b))
}

// irSmallIntegral: f is an integer below 2^53, which a float64 holds
// exactly, so the decimal its shortest form writes (1e+06 for a million)
// is f itself.
func irSmallIntegral(f float64) bool { return f == math.Trunc(f) && math.Abs(f) < 1<<53 }

// irRat is a number as the decimal it stands for.
func irRat(n any) *big.Rat {
	switch n := n.(type) {
	case int64:
		return new(big.Rat).SetInt64(n)
	case float64:
		r, _ := new(big.Rat).SetString(strconv.FormatFloat(n, 'g', -1, 64))
		return r
	}
	panic("policy: not a number")
}

func irEqual(a, b any) bool {
	switch a := a.(type) {
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case int64:
		if bi, ok := b.(int64); ok {
			return a == bi
		}
	}
	if irSortOrder(a) != irSortOrder(b) || irLen(a) != irLen(b) {
		return false
	}
	return irCompare(a, b) == 0
}

// irLen is the number of members of a collection, or of bytes of a
// string; -1 for anything else.
func irLen(v any) int {
	switch v := v.(type) {
	case []any:
		return len(v)
	case *irArray:
		return len(v.elems)
	case map[string]any:
		return len(v)
	case *irObject:
		return len(v.keys)
	case *irSet:
		return len(v.keys)
	case string:
		return len(v)
	}
	return -1
}

func irHash(v any) uint64 {
	var h maphash.Hash
	h.SetSeed(irSeed)
	irWriteHash(&h, v)
	return h.Sum64()
}

func irWriteHash(h *maphash.Hash, v any) {
	switch v := v.(type) {
	case irNullType:
		h.WriteByte(0)
	case bool:
		if v {
			h.WriteByte(2)
		} else {
			h.WriteByte(1)
		}
	case int64:
		h.WriteByte(3)
		maphash.WriteComparable(h, v)
	case float64:
		h.WriteByte(3)
		switch {
		case irSmallIntegral(v):
			maphash.WriteComparable(h, int64(v))
		case v == math.Trunc(v):
			// Equal to an int64 if the decimal it stands for is one.
			if r := irRat(v); r.IsInt() && r.Num().IsInt64() {
				maphash.WriteComparable(h, r.Num().Int64())
				return
			}
			maphash.WriteComparable(h, v)
		default:
			maphash.WriteComparable(h, v)
		}
	case string:
		h.WriteByte(4)
		h.WriteString(v)
		h.WriteByte(0)
	case []any, *irArray:
		h.WriteByte(5)
		for _, e := range irElems(v) {
			irWriteHash(h, irElem(e))
		}
		h.WriteByte(6)
	case map[string]any, *irObject, *irSet:
		// Order-independent: the sum of the members' hashes.
		var sum uint64
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				sum += irHash(k)*31 + irHash(irElem(e))
			}
			h.WriteByte(7)
		case *irObject:
			for i, k := range v.keys {
				sum += irHash(k)*31 + irHash(v.vals[i])
			}
			h.WriteByte(7)
		case *irSet:
			for _, e := range v.keys {
				sum += irHash(e)
			}
			h.WriteByte(8)
		}
		maphash.WriteComparable(h, sum)
	default:
		panic(fmt.Sprintf("policy: no plan value of type %T", v))
	}
}

// irArrayElems are an array's elements (as stored: JSON null as nil in an
// input array); ok is false for anything else.
func irArrayElems(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case *irArray:
		return v.elems, true
	}
	return nil, false
}

// irElems are an array's elements, none for anything else.
func irElems(v any) []any {
	e, _ := irArrayElems(v)
	return e
}

// irGet is v[k]: an object's value, an array's element or a set's member;
// nil (undefined) if there is none.
func irGet(v, k any) any {
	switch v := v.(type) {
	case map[string]any:
		if s, ok := k.(string); ok {
			if e, ok := v[s]; ok {
				return irElem(e)
			}
		}
	case *irObject:
		if i := v.find(k); i >= 0 {
			return v.vals[i]
		}
	case []any, *irArray:
		elems := irElems(v)
		if i, ok := irIndex(k); ok && i < len(elems) {
			return irElem(elems[i])
		}
	case *irSet:
		if v.find(k) >= 0 {
			return k
		}
	}
	return nil
}

// irIndex is k as an array index: as topdown reads it, from the text OPA
// writes for the number (so 1e6 as a float64, written 1e+06, is none).
func irIndex(k any) (int, bool) {
	switch k := k.(type) {
	case int64:
		return int(k), k >= 0 && k <= math.MaxInt32
	case float64:
		i, err := strconv.Atoi(strconv.FormatFloat(k, 'g', -1, 64))
		return i, err == nil && i >= 0 && i <= math.MaxInt32
	}
	return 0, false
}

// irSortedKeys are an object's keys in OPA's order.
func irSortedKeys(v any) []any {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]any, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
		return keys
	case *irObject:
		v.sort()
		return v.keys
	}
	return nil
}

// find is where x is among the keys, -1 if it is not.
func (k *irKeys) find(x any) int {
	if k.index == nil {
		for i, y := range k.keys {
			if irEqual(y, x) {
				return i
			}
		}
		return -1
	}
	for _, i := range k.index[irHash(x)] {
		if irEqual(k.keys[i], x) {
			return i
		}
	}
	return -1
}

// push appends x, which is not among the keys.
func (k *irKeys) push(x any) {
	k.keys = append(k.keys, x)
	switch {
	case len(k.keys) <= irLinear:
	case k.index == nil:
		k.reindex()
	default:
		h := irHash(x)
		k.index[h] = append(k.index[h], len(k.keys)-1)
	}
}

// reindex indexes the keys anew (once there are more than irLinear, or
// after they were reordered).
func (k *irKeys) reindex() {
	if len(k.keys) <= irLinear {
		k.index = nil
		return
	}
	k.index = make(map[uint64][]int, len(k.keys))
	for i, x := range k.keys {
		h := irHash(x)
		k.index[h] = append(k.index[h], i)
	}
}

// insert sets o[k] to v.
func (o *irObject) insert(k, v any) {
	if i := o.find(k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.push(k)
	o.vals = append(o.vals, v)
	o.sorted = false
}

func (o *irObject) sort() {
	if o.sorted {
		return
	}
	sort.Sort(irPairs{o})
	o.sorted = true
	o.reindex()
}

// irPairs sorts an object's keys and values together, in place.
type irPairs struct{ o *irObject }

func (p irPairs) Len() int           { return len(p.o.keys) }
func (p irPairs) Less(i, j int) bool { return irCompare(p.o.keys[i], p.o.keys[j]) < 0 }
func (p irPairs) Swap(i, j int) {
	p.o.keys[i], p.o.keys[j] = p.o.keys[j], p.o.keys[i]
	p.o.vals[i], p.o.vals[j] = p.o.vals[j], p.o.vals[i]
}

func (s *irSet) add(e any) {
	if s.find(e) < 0 {
		s.push(e)
		s.sorted = false
	}
}

// sortedElems are the members in OPA's order.
func (s *irSet) sortedElems() []any {
	if !s.sorted {
		slices.SortFunc(s.keys, irCompare)
		s.sorted = true
		s.reindex()
	}
	return s.keys
}

// irToAST is v as an OPA value (for a builtin function that the evaluator
// leaves to topdown's implementation).
func irToAST(v any) (ast.Value, error) {
	switch v := v.(type) {
	case irNullType:
		return ast.NullValue, nil
	case bool:
		return ast.Boolean(v), nil
	case int64:
		return ast.Number(strconv.FormatInt(v, 10)), nil
	case float64:
		return ast.Number(strconv.FormatFloat(v, 'g', -1, 64)), nil
	case string:
		return ast.String(v), nil
	case []any, *irArray:
		elems := irElems(v)
		terms := make([]*ast.Term, len(elems))
		for i, e := range elems {
			x, err := irToAST(irElem(e))
			if err != nil {
				return nil, err
			}
			terms[i] = ast.NewTerm(x)
		}
		return ast.NewArray(terms...), nil
	case map[string]any, *irObject:
		keys := irSortedKeys(v)
		pairs := make([][2]*ast.Term, len(keys))
		for i, k := range keys {
			kv, err := irToAST(k)
			if err != nil {
				return nil, err
			}
			ev, err := irToAST(irGet(v, k))
			if err != nil {
				return nil, err
			}
			pairs[i] = [2]*ast.Term{ast.NewTerm(kv), ast.NewTerm(ev)}
		}
		return ast.NewObject(pairs...), nil
	case *irSet:
		terms := make([]*ast.Term, len(v.keys))
		for i, e := range v.keys {
			x, err := irToAST(e)
			if err != nil {
				return nil, err
			}
			terms[i] = ast.NewTerm(x)
		}
		return ast.NewSet(terms...), nil
	}
	return nil, fmt.Errorf("no OPA value for %T", v)
}

// irFromAST is an OPA value as the evaluator's.
func irFromAST(v ast.Value) (any, error) {
	switch v := v.(type) {
	case ast.Null:
		return irNull, nil
	case ast.Boolean:
		return bool(v), nil
	case ast.Number:
		return irNumber(string(v))
	case ast.String:
		return string(v), nil
	case *ast.Array:
		a := &irArray{elems: make([]any, 0, v.Len())}
		for i := range v.Len() {
			e, err := irFromAST(v.Elem(i).Value)
			if err != nil {
				return nil, err
			}
			a.elems = append(a.elems, e)
		}
		return a, nil
	case ast.Object:
		o := &irObject{}
		err := v.Iter(func(k, e *ast.Term) error {
			kv, err := irFromAST(k.Value)
			if err != nil {
				return err
			}
			ev, err := irFromAST(e.Value)
			if err != nil {
				return err
			}
			o.insert(kv, ev)
			return nil
		})
		return o, err
	case ast.Set:
		s := &irSet{}
		err := v.Iter(func(e *ast.Term) error {
			x, err := irFromAST(e.Value)
			if err != nil {
				return err
			}
			s.add(x)
			return nil
		})
		return s, err
	}
	return nil, fmt.Errorf("no plan value for OPA value %v", v)
}

// irNumber is the number written as s: an int64 if s is an integer that
// fits one, written as strconv writes it, else a float64 that s is the
// shortest form of. OPA's numbers are decimals of any size, and it writes
// them as they were written ("1.0" stays 1.0 in sprintf's %v); any other
// text is an error, never a rounded or rewritten value (the engine then
// decides with topdown).
func irNumber(s string) (any, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && strconv.FormatInt(i, 10) == s {
		return i, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && strconv.FormatFloat(f, 'g', -1, 64) == s {
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return f, nil
		}
	}
	return nil, fmt.Errorf("number %s is not one the plan evaluator holds as OPA writes it", s)
}
