package mutate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gomodules.xyz/jsonpatch/v2"
)

// The patch is computed from three JSON texts: the typed pod encoded
// before and after the mutators ran, and the pod as submitted (raw). The
// walk descends only where before and after differ, so it never looks at
// what no mutator touched; it writes the operations against raw, which may
// lack parents the typed encoding has ("resources": {}), hold fields the
// typed pod drops, or spell values differently. Nothing here knows which
// fields the mutators change.
//
// Where before and after differ at a path:
//   - raw has the path: the operations that make raw's value there equal
//     to after's (a replace for a scalar; for an object, key by key);
//   - raw has the parent but not the path: add after's value;
//   - raw lacks the parent: the add goes to the first missing parent, with
//     an object of only what the mutators added or changed below it (what
//     raw lacks decodes to the zero value the typed encoding shows there);
//   - a removal is a remove where raw has the path, else nothing.
//
// With before as raw, the same walk gives the typed diff, with the paths
// gomodules.xyz/jsonpatch.CreatePatch gives (Chain.Missing uses it).

// diffOnto returns the patch that turns raw into raw with every change from
// before to after.
func diffOnto(raw, before, after []byte) ([]jsonpatch.Operation, error) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, fmt.Errorf("the submitted pod is not a JSON object")
	}
	e := valueEnd(raw, i)
	if e < 0 || skipSpace(raw, e) != len(raw) {
		return nil, fmt.Errorf("the submitted pod: %w", errSyntax)
	}
	if len(before) == 0 || before[0] != '{' || len(after) == 0 || after[0] != '{' {
		return nil, fmt.Errorf("the encoded pod is not a JSON object")
	}
	d := newDiffer()
	defer d.release()
	if err := d.diff(before, after, raw[i:e]); err != nil {
		return nil, fmt.Errorf("computing patch: %w", err)
	}
	ops := d.ops
	paths := string(d.paths) // one string for every path
	for i, end := range d.ends {
		ops[i].Path = paths[d.starts[i]:end]
	}
	// The same pod always gets the same patch, sorted by path. Only adds
	// and replaces of distinct paths are reordered; a patch with removals
	// keeps the walk's order, in which it applies.
	if !slices.ContainsFunc(ops, func(op jsonpatch.Operation) bool { return op.Operation != "add" && op.Operation != "replace" }) {
		slices.SortFunc(ops, func(a, b jsonpatch.Operation) int { return comparePointers(a.Path, b.Path) })
	}
	return ops, nil
}

// firstChange is the smallest path (in string order) of the typed diff
// from before to after, or "" if they are equal.
func firstChange(before, after []byte) (string, error) {
	d := newDiffer()
	defer d.release()
	d.firstOnly = true
	if err := d.diff(before, after, before); err != nil {
		return "", err
	}
	return string(d.first), nil
}

type differ struct {
	path []byte   // JSON pointer of the value being compared
	ms   []member // members of the objects being compared, a stack
	es   [][]byte // elements of the arrays being compared, a stack

	ops          []jsonpatch.Operation
	paths        []byte // the paths of ops, one after the other
	starts, ends []int  // where each op's path is in paths
	firstOnly    bool   // record only the smallest path, in first
	first        []byte
}

var differs = sync.Pool{New: func() any { return new(differ) }}

func newDiffer() *differ {
	d := differs.Get().(*differ)
	d.ops = make([]jsonpatch.Operation, 0, 16)
	return d
}

// release returns d to the pool, keeping its buffers but no reference to
// the texts or the patch.
func (d *differ) release() {
	clear(d.ms[:cap(d.ms)])
	clear(d.es[:cap(d.es)])
	*d = differ{path: d.path[:0], ms: d.ms[:0], es: d.es[:0], paths: d.paths[:0], starts: d.starts[:0], ends: d.ends[:0], first: d.first[:0]}
	differs.Put(d)
}

func (d *differ) emit(op string, value []byte) {
	if d.firstOnly {
		if len(d.first) == 0 || bytes.Compare(d.path, d.first) < 0 {
			d.first = append(d.first[:0], d.path...)
		}
		return
	}
	d.starts = append(d.starts, len(d.paths))
	d.paths = append(d.paths, d.path...)
	d.ends = append(d.ends, len(d.paths))
	o := jsonpatch.Operation{Operation: op}
	if value != nil {
		o.Value = json.RawMessage(value)
	}
	d.ops = append(d.ops, o)
}

// pushKey appends the quoted key to the path, escaped per RFC 6901, and
// returns the length to pop back to.
func (d *differ) pushKey(q []byte) int {
	n := len(d.path)
	d.path = append(d.path, '/')
	s := q[1 : len(q)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		s = []byte(unquote(q))
	}
	for _, c := range s {
		switch c {
		case '~':
			d.path = append(d.path, '~', '0')
		case '/':
			d.path = append(d.path, '~', '1')
		default:
			d.path = append(d.path, c)
		}
	}
	return n
}

func (d *differ) pushIndex(i int) int {
	n := len(d.path)
	d.path = strconv.AppendInt(append(d.path, '/'), int64(i), 10)
	return n
}

// diff adds the operations for a value that is b before and a after, and
// r in raw (nil: raw lacks it, but has its parent).
func (d *differ) diff(b, a, r []byte) error {
	if bytes.Equal(b, a) {
		return nil
	}
	if r == nil {
		if b[0] == '{' && a[0] == '{' {
			v, ok, err := d.changed(nil, b, a)
			if err != nil || !ok {
				return err
			}
			d.emit("add", v)
			return nil
		}
		d.emit("add", a)
		return nil
	}
	switch {
	case b[0] == '{' && a[0] == '{' && r[0] == '{':
		return d.objects(b, a, r)
	case b[0] == '[' && a[0] == '[' && r[0] == '[':
		return d.arrays(b, a, r)
	}
	return d.set(r, a)
}

func (d *differ) objects(b, a, r []byte) error {
	base := len(d.ms)
	defer func() { d.ms = d.ms[:base] }()
	var err error
	if d.ms, err = appendMembers(d.ms, b); err != nil {
		return err
	}
	nb := len(d.ms)
	if d.ms, err = appendMembers(d.ms, a); err != nil {
		return err
	}
	na := len(d.ms)
	if d.ms, err = appendMembers(d.ms, r); err != nil {
		return err
	}
	nr := len(d.ms)
	hint := 0
	for i := nb; i < na; i++ {
		am := d.ms[i]
		bi := find(d.ms[base:nb], am.key, hint)
		var bv, rv []byte
		if bi >= 0 {
			hint, bv = bi+1, d.ms[base+bi].value
			if bytes.Equal(bv, am.value) {
				continue
			}
		}
		if ri := findLast(d.ms[na:nr], am.key); ri >= 0 {
			rv = d.ms[na+ri].value
		}
		n := d.pushKey(am.key)
		switch {
		case bi >= 0:
			err = d.diff(bv, am.value, rv)
		case rv != nil:
			err = d.set(rv, am.value)
		default:
			d.emit("add", am.value)
		}
		d.path = d.path[:n]
		if err != nil {
			return err
		}
	}
	hint = 0
	for i := base; i < nb; i++ {
		bm := d.ms[i]
		ai := find(d.ms[nb:na], bm.key, hint)
		if ai >= 0 {
			hint = ai + 1
			continue
		}
		if findLast(d.ms[na:nr], bm.key) >= 0 {
			n := d.pushKey(bm.key)
			d.emit("remove", nil)
			d.path = d.path[:n]
		}
	}
	return nil
}

func (d *differ) arrays(b, a, r []byte) error {
	base := len(d.es)
	defer func() { d.es = d.es[:base] }()
	var err error
	if d.es, err = appendElements(d.es, b); err != nil {
		return err
	}
	nb := len(d.es)
	if d.es, err = appendElements(d.es, a); err != nil {
		return err
	}
	na := len(d.es)
	if d.es, err = appendElements(d.es, r); err != nil {
		return err
	}
	lb, la, lr := nb-base, na-nb, len(d.es)-na
	if lr != lb {
		return d.set(r, a)
	}
	for i := lb - 1; i >= la; i-- {
		n := d.pushIndex(i)
		d.emit("remove", nil)
		d.path = d.path[:n]
	}
	for i := lb; i < la; i++ {
		n := d.pushIndex(i)
		d.emit("add", d.es[nb+i])
		d.path = d.path[:n]
	}
	for i := range min(lb, la) {
		n := d.pushIndex(i)
		err := d.diff(d.es[base+i], d.es[nb+i], d.es[na+i])
		d.path = d.path[:n]
		if err != nil {
			return err
		}
	}
	return nil
}

// set adds the operations that make raw's value r equal to a.
func (d *differ) set(r, a []byte) error {
	switch {
	case r[0] == '{' && a[0] == '{':
		base := len(d.ms)
		defer func() { d.ms = d.ms[:base] }()
		var err error
		if d.ms, err = appendMembers(d.ms, r); err != nil {
			return err
		}
		nr := len(d.ms)
		if d.ms, err = appendMembers(d.ms, a); err != nil {
			return err
		}
		na := len(d.ms)
		for i := nr; i < na; i++ {
			am := d.ms[i]
			n := d.pushKey(am.key)
			if ri := findLast(d.ms[base:nr], am.key); ri >= 0 {
				err = d.set(d.ms[base+ri].value, am.value)
			} else {
				d.emit("add", am.value)
			}
			d.path = d.path[:n]
			if err != nil {
				return err
			}
		}
		for i := base; i < nr; i++ {
			rm := d.ms[i]
			if find(d.ms[nr:na], rm.key, i-base) >= 0 || findLast(d.ms[i+1:nr], rm.key) >= 0 {
				continue // kept, or a duplicate whose last copy is handled
			}
			n := d.pushKey(rm.key)
			d.emit("remove", nil)
			d.path = d.path[:n]
		}
		return nil
	case r[0] == '[' && a[0] == '[':
		base := len(d.es)
		defer func() { d.es = d.es[:base] }()
		var err error
		if d.es, err = appendElements(d.es, r); err != nil {
			return err
		}
		nr := len(d.es)
		if d.es, err = appendElements(d.es, a); err != nil {
			return err
		}
		lr, la := nr-base, len(d.es)-nr
		for i := lr - 1; i >= la; i-- {
			n := d.pushIndex(i)
			d.emit("remove", nil)
			d.path = d.path[:n]
		}
		for i := lr; i < la; i++ {
			n := d.pushIndex(i)
			d.emit("add", d.es[nr+i])
			d.path = d.path[:n]
		}
		for i := range min(lr, la) {
			n := d.pushIndex(i)
			err := d.set(d.es[base+i], d.es[nr+i])
			d.path = d.path[:n]
			if err != nil {
				return err
			}
		}
		return nil
	case r[0] == '{' || r[0] == '[' || a[0] == '{' || a[0] == '[' || !scalarEqual(r, a):
		d.emit("replace", a)
	}
	return nil
}

// changed appends to dst an object of what a adds to or changes in b (two
// objects), and reports whether it holds anything.
func (d *differ) changed(dst, b, a []byte) ([]byte, bool, error) {
	base := len(d.ms)
	defer func() { d.ms = d.ms[:base] }()
	var err error
	if d.ms, err = appendMembers(d.ms, b); err != nil {
		return dst, false, err
	}
	nb := len(d.ms)
	if d.ms, err = appendMembers(d.ms, a); err != nil {
		return dst, false, err
	}
	start := len(dst)
	dst = append(dst, '{')
	hint := 0
	for i := nb; i < len(d.ms); i++ {
		am := d.ms[i]
		mark := len(dst)
		if len(dst) > start+1 {
			dst = append(dst, ',')
		}
		dst = append(append(dst, am.key...), ':')
		bi := find(d.ms[base:nb], am.key, hint)
		switch {
		case bi < 0:
			dst = append(dst, am.value...)
		case bytes.Equal(d.ms[base+bi].value, am.value):
			hint, dst = bi+1, dst[:mark]
		case d.ms[base+bi].value[0] == '{' && am.value[0] == '{':
			hint = bi + 1
			var ok bool
			if dst, ok, err = d.changed(dst, d.ms[base+bi].value, am.value); err != nil {
				return dst, false, err
			}
			if !ok {
				dst = dst[:mark]
			}
		default:
			hint, dst = bi+1, append(dst, am.value...)
		}
	}
	if len(dst) == start+1 {
		return dst[:start], false, nil
	}
	return append(dst, '}'), true, nil
}

// comparePointers orders JSON pointers segment by segment, array indices
// by number (so that /env/9 comes before /env/10 and a patch appending to
// an array applies in order), other segments as strings, after indices.
func comparePointers(a, b string) int {
	for a != "" && b != "" {
		var sa, sb string
		sa, a = nextSegment(a)
		sb, b = nextSegment(b)
		if c := compareSegments(sa, sb); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func nextSegment(p string) (seg, rest string) {
	p = p[1:] // the leading "/"
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

func compareSegments(a, b string) int {
	da, db := isIndex(a), isIndex(b)
	switch {
	case da && db:
		if c := len(a) - len(b); c != 0 {
			return c
		}
	case da:
		return -1
	case db:
		return 1
	}
	return strings.Compare(a, b)
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
