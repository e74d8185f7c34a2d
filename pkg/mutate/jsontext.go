package mutate

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// The structure of a JSON text, read in one pass: every value's text, in
// document order, a container before its contents. Equal subtrees are then
// compared with bytes.Equal, nothing is decoded, and no part of the text
// is read twice however deep a walk goes.

var errSyntax = errors.New("malformed JSON")

// node is one value of a JSON text.
type node struct {
	key   []byte // for a member of an object: its key, quoted, escapes kept
	value []byte // the value's text
	next  int32  // the index of the node after the value and its contents
	len   int32  // for an object or an array: its number of members or elements
}

// index appends the nodes of the JSON text d to t, the first for the
// whole text. The children of a container c are c+1, t[c+1].next, … up to
// t[c].next.
func index(t []node, d []byte) ([]node, error) {
	type frame struct {
		node  int32
		start int
		obj   bool
	}
	var stack [16]frame
	open := stack[:0]
	var key []byte
	var err error
	i := skipSpace(d, 0)
	for {
		// A value starts at d[i]; in an object, key is its key.
		if i >= len(d) {
			return t, errSyntax
		}
		n := int32(len(t))
		if len(open) > 0 {
			t[open[len(open)-1].node].len++
		}
		switch c := d[i]; c {
		case '{', '[':
			t = append(t, node{key: key, value: d[i : i+1]})
			open = append(open, frame{n, i, c == '{'})
			if i = skipSpace(d, i+1); i < len(d) && d[i] != '}' && d[i] != ']' {
				key = nil
				if c == '{' {
					if key, i, err = readKey(d, i); err != nil {
						return t, err
					}
				}
				continue
			}
		default:
			e := valueEnd(d, i)
			if e < 0 {
				return t, errSyntax
			}
			t = append(t, node{key: key, value: d[i:e], next: n + 1})
			i = skipSpace(d, e)
		}
		// After a value: close the containers that end here, then go on to
		// the next value.
		for {
			if len(open) == 0 {
				if i != len(d) {
					return t, errSyntax
				}
				return t, nil
			}
			if i >= len(d) {
				return t, errSyntax
			}
			f := open[len(open)-1]
			if c := d[i]; c == '}' && f.obj || c == ']' && !f.obj {
				t[f.node].value = d[f.start : i+1]
				t[f.node].next = int32(len(t))
				open = open[:len(open)-1]
				i = skipSpace(d, i+1)
				continue
			}
			if d[i] != ',' {
				return t, errSyntax
			}
			i = skipSpace(d, i+1)
			key = nil
			if f.obj {
				if key, i, err = readKey(d, i); err != nil {
					return t, err
				}
			}
			break
		}
	}
}

// readKey reads a key and its colon at d[i], and returns the key, quoted,
// and where its value starts.
func readKey(d []byte, i int) ([]byte, int, error) {
	if i >= len(d) || d[i] != '"' {
		return nil, i, errSyntax
	}
	e := stringEnd(d, i)
	if e < 0 {
		return nil, i, errSyntax
	}
	j := skipSpace(d, e)
	if j >= len(d) || d[j] != ':' {
		return nil, i, errSyntax
	}
	return d[i:e], skipSpace(d, j+1), nil
}

func skipSpace(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd is the index after the string that starts at d[i] (a quote),
// or -1.
func stringEnd(d []byte, i int) int {
	for j := i + 1; ; j++ {
		k := bytes.IndexByte(d[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		escaped := false // an odd number of backslashes before the quote
		for b := j - 1; b > i && d[b] == '\\'; b-- {
			escaped = !escaped
		}
		if !escaped {
			return j + 1
		}
	}
}

// valueEnd is the index after the string, number or literal that starts
// at d[i], or -1.
func valueEnd(d []byte, i int) int {
	if d[i] == '"' {
		return stringEnd(d, i)
	}
	j := i
	for j < len(d) {
		switch d[j] {
		case ',', '}', ']', ':', '{', '[', '"', ' ', '\t', '\n', '\r':
			if j == i {
				return -1
			}
			return j
		}
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// find is the member of object o in t named key, or -1. It looks at *hint
// first, and moves it past a match: members of two encodings of one type
// come in the same order.
func find(t []node, o int32, key []byte, hint *int32) int32 {
	end := t[o].next
	if h := *hint; h < end && keyEqual(t[h].key, key) {
		*hint = t[h].next
		return h
	}
	for k := o + 1; k < end; k = t[k].next {
		if keyEqual(t[k].key, key) {
			*hint = t[k].next
			return k
		}
	}
	return -1
}

// findLast is the last member of object o in t named key, the one a
// decoder keeps, or -1.
func findLast(t []node, o int32, key []byte) int32 {
	found := int32(-1)
	for k := o + 1; k < t[o].next; k = t[k].next {
		if keyEqual(t[k].key, key) {
			found = k
		}
	}
	return found
}

// keyEqual compares two quoted keys by what they decode to.
func keyEqual(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if bytes.IndexByte(a, '\\') < 0 && bytes.IndexByte(b, '\\') < 0 {
		return false
	}
	return unquote(a) == unquote(b)
}

// unquote decodes a JSON string ("" if it is malformed).
func unquote(q []byte) string {
	if bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : len(q)-1])
	}
	var s string
	if json.Unmarshal(q, &s) != nil {
		return ""
	}
	return s
}

// scalarEqual compares two scalars as a JSON decoder sees them: strings by
// their text, numbers by their value.
func scalarEqual(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	switch {
	case a[0] == '"' && b[0] == '"':
		return keyEqual(a, b)
	case isNumber(a[0]) && isNumber(b[0]):
		x, errX := strconv.ParseFloat(string(a), 64)
		y, errY := strconv.ParseFloat(string(b), 64)
		return errX == nil && errY == nil && x == y
	}
	return false
}

func isNumber(c byte) bool { return c == '-' || c >= '0' && c <= '9' }
