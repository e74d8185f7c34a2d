package mutate

import (
	"bytes"
	"encoding/json"
	"errors"
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
	d := newDiffer()
	defer d.release()
	var err error
	if d.r, err = indexObject(d.r, raw); err != nil {
		return nil, fmt.Errorf("the submitted pod: %w", err)
	}
	if d.b, err = indexObject(d.b, before); err != nil {
		return nil, fmt.Errorf("the encoded pod: %w", err)
	}
	if d.a, err = indexObject(d.a, after); err != nil {
		return nil, fmt.Errorf("the mutated pod: %w", err)
	}
	d.ops = make([]jsonpatch.Operation, 0, 16)
	d.diff(0, 0, 0)
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
	var err error
	if d.b, err = indexObject(d.b, before); err != nil {
		return "", err
	}
	if d.a, err = indexObject(d.a, after); err != nil {
		return "", err
	}
	own := d.r
	d.r = d.b // the typed diff: before is raw
	d.diff(0, 0, 0)
	d.r = own
	return string(d.first), nil
}

// differ walks before (b), after (a) and raw (r), each indexed.
type differ struct {
	b, a, r []node
	path    []byte // JSON pointer of the value being compared

	ops          []jsonpatch.Operation
	paths        []byte // the paths of ops, one after the other
	starts, ends []int  // where each op's path is in paths
	firstOnly    bool   // record only the smallest path, in first
	first        []byte
}

var differs = sync.Pool{New: func() any { return new(differ) }}

func newDiffer() *differ { return differs.Get().(*differ) }

// indexObject indexes the JSON object d into t (reset).
func indexObject(t []node, d []byte) ([]node, error) {
	t, err := index(t[:0], d)
	if err == nil && t[0].value[0] != '{' {
		err = errors.New("not a JSON object")
	}
	return t, err
}

// release returns d to the pool, keeping its buffers but no reference to
// the texts or the patch.
func (d *differ) release() {
	clear(d.b[:cap(d.b)])
	clear(d.a[:cap(d.a)])
	clear(d.r[:cap(d.r)])
	*d = differ{b: d.b[:0], a: d.a[:0], r: d.r[:0], path: d.path[:0], paths: d.paths[:0], starts: d.starts[:0], ends: d.ends[:0], first: d.first[:0]}
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

func (d *differ) pushIndex(i int32) int {
	n := len(d.path)
	d.path = strconv.AppendInt(append(d.path, '/'), int64(i), 10)
	return n
}

// diff adds the operations for a value that is d.b[bi] before, d.a[ai]
// after and d.r[ri] in raw (ri < 0: raw lacks it, but has its parent).
func (d *differ) diff(bi, ai, ri int32) {
	b, a := d.b[bi].value, d.a[ai].value
	if bytes.Equal(b, a) {
		return
	}
	if ri < 0 {
		if b[0] == '{' && a[0] == '{' {
			if v, ok := d.changed(nil, bi, ai); ok {
				d.emit("add", v)
			}
			return
		}
		d.emit("add", a)
		return
	}
	switch r := d.r[ri].value; {
	case b[0] == '{' && a[0] == '{' && r[0] == '{':
		d.objects(bi, ai, ri)
	case b[0] == '[' && a[0] == '[' && r[0] == '[' && d.b[bi].len == d.r[ri].len:
		d.arrays(bi, ai, ri)
	default:
		d.set(ri, ai)
	}
}

func (d *differ) objects(bi, ai, ri int32) {
	hint := bi + 1
	for ac := ai + 1; ac < d.a[ai].next; ac = d.a[ac].next {
		key := d.a[ac].key
		bc := find(d.b, bi, key, &hint)
		if bc >= 0 && bytes.Equal(d.b[bc].value, d.a[ac].value) {
			continue
		}
		rc := findLast(d.r, ri, key)
		n := d.pushKey(key)
		switch {
		case bc >= 0:
			d.diff(bc, ac, rc)
		case rc >= 0:
			d.set(rc, ac)
		default:
			d.emit("add", d.a[ac].value)
		}
		d.path = d.path[:n]
	}
	hint = ai + 1
	for bc := bi + 1; bc < d.b[bi].next; bc = d.b[bc].next {
		key := d.b[bc].key
		if find(d.a, ai, key, &hint) < 0 && findLast(d.r, ri, key) >= 0 {
			n := d.pushKey(key)
			d.emit("remove", nil)
			d.path = d.path[:n]
		}
	}
}

// arrays compares two arrays element by element, raw's the same length as
// before's.
func (d *differ) arrays(bi, ai, ri int32) {
	lb, la := d.b[bi].len, d.a[ai].len
	for i := lb - 1; i >= la; i-- {
		n := d.pushIndex(i)
		d.emit("remove", nil)
		d.path = d.path[:n]
	}
	bc, ac, rc := bi+1, ai+1, ri+1
	for i := range la {
		n := d.pushIndex(i)
		if i < lb {
			d.diff(bc, ac, rc)
			bc, rc = d.b[bc].next, d.r[rc].next
		} else {
			d.emit("add", d.a[ac].value)
		}
		d.path = d.path[:n]
		ac = d.a[ac].next
	}
}

// set adds the operations that make raw's value d.r[ri] equal to d.a[ai].
func (d *differ) set(ri, ai int32) {
	r, a := d.r[ri].value, d.a[ai].value
	switch {
	case bytes.Equal(r, a):
	case r[0] == '{' && a[0] == '{':
		for ac := ai + 1; ac < d.a[ai].next; ac = d.a[ac].next {
			n := d.pushKey(d.a[ac].key)
			if rc := findLast(d.r, ri, d.a[ac].key); rc >= 0 {
				d.set(rc, ac)
			} else {
				d.emit("add", d.a[ac].value)
			}
			d.path = d.path[:n]
		}
		hint := ai + 1
		for rc := ri + 1; rc < d.r[ri].next; rc = d.r[rc].next {
			key := d.r[rc].key
			if find(d.a, ai, key, &hint) >= 0 || findLast(d.r, ri, key) != rc {
				continue // kept, or a duplicate whose last copy is handled
			}
			n := d.pushKey(key)
			d.emit("remove", nil)
			d.path = d.path[:n]
		}
	case r[0] == '[' && a[0] == '[':
		lr, la := d.r[ri].len, d.a[ai].len
		for i := lr - 1; i >= la; i-- {
			n := d.pushIndex(i)
			d.emit("remove", nil)
			d.path = d.path[:n]
		}
		rc, ac := ri+1, ai+1
		for i := range la {
			n := d.pushIndex(i)
			if i < lr {
				d.set(rc, ac)
				rc = d.r[rc].next
			} else {
				d.emit("add", d.a[ac].value)
			}
			d.path = d.path[:n]
			ac = d.a[ac].next
		}
	case r[0] == '{' || r[0] == '[' || a[0] == '{' || a[0] == '[' || !scalarEqual(r, a):
		d.emit("replace", a)
	}
}

// changed appends to dst an object of what d.a[ai] adds to or changes in
// d.b[bi] (two objects), and reports whether it holds anything.
func (d *differ) changed(dst []byte, bi, ai int32) ([]byte, bool) {
	start := len(dst)
	dst = append(dst, '{')
	hint := bi + 1
	for ac := ai + 1; ac < d.a[ai].next; ac = d.a[ac].next {
		key, av := d.a[ac].key, d.a[ac].value
		mark := len(dst)
		if len(dst) > start+1 {
			dst = append(dst, ',')
		}
		dst = append(append(dst, key...), ':')
		bc := find(d.b, bi, key, &hint)
		switch {
		case bc < 0:
			dst = append(dst, av...)
		case bytes.Equal(d.b[bc].value, av):
			dst = dst[:mark]
		case d.b[bc].value[0] == '{' && av[0] == '{':
			var ok bool
			if dst, ok = d.changed(dst, bc, ac); !ok {
				dst = dst[:mark]
			}
		default:
			dst = append(dst, av...)
		}
	}
	if len(dst) == start+1 {
		return dst[:start], false
	}
	return append(dst, '}'), true
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
