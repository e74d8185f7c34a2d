package mutate

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// A small reader of JSON text: it finds the members of an object and the
// elements of an array as slices of the text, without decoding the values,
// so that equal subtrees are compared with bytes.Equal and nothing is
// allocated for them.

var errSyntax = errors.New("malformed JSON")

// member is one key and value of an object; key keeps its quotes and
// escapes.
type member struct {
	key, value []byte
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

// valueEnd is the index after the value that starts at d[i], or -1. Nested
// values are matched by their brackets, not checked.
func valueEnd(d []byte, i int) int {
	if i >= len(d) {
		return -1
	}
	switch d[i] {
	case '"':
		return stringEnd(d, i)
	case '{', '[':
		depth := 0
		for i < len(d) {
			switch d[i] {
			case '"':
				if i = stringEnd(d, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	j := i
	for j < len(d) {
		switch d[j] {
		case ',', '}', ']', ':', ' ', '\t', '\n', '\r':
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

// appendMembers appends the members of the object d, in order, to ms.
func appendMembers(ms []member, d []byte) ([]member, error) {
	i := skipSpace(d, 1)
	if i < len(d) && d[i] == '}' {
		return ms, nil
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return ms, errSyntax
		}
		e := stringEnd(d, i)
		if e < 0 {
			return ms, errSyntax
		}
		key := d[i:e]
		if i = skipSpace(d, e); i >= len(d) || d[i] != ':' {
			return ms, errSyntax
		}
		i = skipSpace(d, i+1)
		e = valueEnd(d, i)
		if e < 0 {
			return ms, errSyntax
		}
		ms = append(ms, member{key, d[i:e]})
		if i = skipSpace(d, e); i >= len(d) {
			return ms, errSyntax
		}
		switch d[i] {
		case '}':
			return ms, nil
		case ',':
			i = skipSpace(d, i+1)
		default:
			return ms, errSyntax
		}
	}
}

// appendElements appends the elements of the array d to es.
func appendElements(es [][]byte, d []byte) ([][]byte, error) {
	i := skipSpace(d, 1)
	if i < len(d) && d[i] == ']' {
		return es, nil
	}
	for {
		e := valueEnd(d, i)
		if e < 0 {
			return es, errSyntax
		}
		es = append(es, d[i:e])
		if i = skipSpace(d, e); i >= len(d) {
			return es, errSyntax
		}
		switch d[i] {
		case ']':
			return es, nil
		case ',':
			i = skipSpace(d, i+1)
		default:
			return es, errSyntax
		}
	}
}

// find is the index in ms of the member named key, or -1. It looks at hint
// first: members of two encodings of one type come in the same order.
func find(ms []member, key []byte, hint int) int {
	if hint < len(ms) && keyEqual(ms[hint].key, key) {
		return hint
	}
	for i := range ms {
		if keyEqual(ms[i].key, key) {
			return i
		}
	}
	return -1
}

// findLast is the index in ms of the last member named key, the one a
// decoder keeps, or -1.
func findLast(ms []member, key []byte) int {
	for i := len(ms) - 1; i >= 0; i-- {
		if keyEqual(ms[i].key, key) {
			return i
		}
	}
	return -1
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
