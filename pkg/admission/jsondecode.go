package admission

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// decodeValues decodes JSON text as utiljson.Unmarshal into an any, and
// refuses text of more than limit values (countValues) before it is
// decoded whole, with the errors and values of
//
//	if countValues(raw, limit) > limit {
//		return nil, fmt.Errorf("more than %d values; ...", limit, limit)
//	}
//	err := utiljson.Unmarshal(raw, &v)
//
// in less than half the time on a pod (BenchmarkDecodeObject): decodeJSON
// decodes the text and counts its values in one pass, and the text it does
// not decode takes the path above, for the same error.
func decodeValues(raw []byte, limit int) (any, error) {
	v, _, err := decodeValuesRegular(raw, limit)
	return v, err
}

// decodeValuesRegular is decodeValues, and reports whether the text is
// regular: decodeJSON decoded it and found no duplicate keys, no invalid
// UTF-8 and no invalid surrogate escapes in it (typeddecode.go).
func decodeValuesRegular(raw []byte, limit int) (any, bool, error) {
	v, regular, err := decodeJSONRegular(raw, limit)
	if err == nil {
		return v, regular, nil
	}
	v, err = decodeValuesSlow(raw, limit, err)
	return v, false, err
}

func decodeValuesSlow(raw []byte, limit int, err error) (any, error) {
	if err == errTooManyValues || countValues(raw, limit) > limit {
		return nil, fmt.Errorf("more than %d values; microguard evaluates at most %d", limit, limit)
	}
	// utiljson's error, or (were decodeJSON to refuse text utiljson takes:
	// FuzzDecodeJSON looks for that) its value.
	return utiljsonUnmarshal(raw)
}

// utiljsonUnmarshal is apart so that its value does not escape to the heap
// in decodeValues.
func utiljsonUnmarshal(raw []byte) (any, error) {
	var v any
	if err := utiljson.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeJSON is a single-pass decoder of JSON text into the values
// k8s.io/apimachinery/pkg/util/json.Unmarshal gives for an any
// (sigs.k8s.io/json's UnmarshalCaseSensitivePreserveInts): map[string]any,
// []any, string, int64, float64, bool and nil, with the same values for
// all the text utiljson takes:
//
//   - a number without '.' that parses as an int64 is an int64 (so -0 is
//     int64 0, and 1e3 and integers beyond int64 are float64s); any other
//     number is a float64, and one that does not fit a float64 (1e400)
//     is an error;
//   - the last of duplicate keys wins;
//   - invalid UTF-8 in strings and invalid surrogate escapes become
//     U+FFFD, as encoding/json does;
//   - at most 10000 nested arrays and objects, as encoding/json's scanner;
//   - {} and [] are empty, non-nil maps and slices.
//
// It counts the values as countValues does (the commas and brackets outside
// strings), and stops with errTooManyValues once past limit: a huge object
// is refused after at most limit values have been decoded.
//
// Any other error is errNotDecoded, which says nothing about the text but
// that utiljson refuses it too: decodeValues decodes it with utiljson for
// that error. The differential tests and FuzzDecodeJSON
// in jsondecode_test.go hold it to utiljson's results.
func decodeJSON(data []byte, limit int) (any, error) {
	v, _, err := decodeJSONRegular(data, limit)
	return v, err
}

// decodeJSONRegular is decodeJSON, and reports whether the text is regular
// (no duplicate keys, invalid UTF-8 or invalid surrogate escapes).
func decodeJSONRegular(data []byte, limit int) (any, bool, error) {
	d := getDecoder(data, limit)
	defer putDecoder(d)
	d.skipSpace()
	v, err := d.value()
	if err != nil {
		return nil, false, err
	}
	d.skipSpace()
	if d.i != len(d.data) {
		return nil, false, errNotDecoded
	}
	return v, !d.irregular, nil
}

var (
	// errNotDecoded is invalid JSON text, nested too deep, or with a
	// number out of float64's range: utiljson.Unmarshal says what is
	// wrong with it.
	errNotDecoded = errors.New("JSON text not decoded")
	// errTooManyValues is text with more values than the limit.
	errTooManyValues = errors.New("too many values")
)

// maxJSONDepth is encoding/json's bound on nesting (its scanner's
// maxNestingDepth): 10000 arrays and objects are fine, 10001 an error.
const maxJSONDepth = 10000

type jsonMember struct {
	key string
	val any
}

type jsonDecoder struct {
	data   []byte
	i      int
	depth  int
	values int
	limit  int
	// items and members are the elements of the arrays and objects being
	// decoded, gathered so that each is allocated once at its final size.
	items   []any
	members []jsonMember
	// buf is the text of the string being unquoted.
	buf []byte
	// irregular is set by a duplicate key, invalid UTF-8, an invalid
	// surrogate escape or an integer beyond int64: text that decoders
	// other than encoding/json's may read otherwise (typeddecode.go).
	irregular bool
}

var decoders = sync.Pool{New: func() any {
	return &jsonDecoder{items: make([]any, 0, 64), members: make([]jsonMember, 0, 64)}
}}

func getDecoder(data []byte, limit int) *jsonDecoder {
	d := decoders.Get().(*jsonDecoder)
	d.data, d.i, d.depth, d.values, d.limit, d.irregular = data, 0, 0, 0, limit, false
	return d
}

// maxPooledScratch bounds the scratch kept for the next decode: a decoder
// that grew it for a huge array or object is dropped.
const maxPooledScratch = 1024

func putDecoder(d *jsonDecoder) {
	if cap(d.items) > maxPooledScratch || cap(d.members) > maxPooledScratch || cap(d.buf) > 64*maxPooledScratch {
		return
	}
	// After an error, the scratch holds values of the abandoned arrays
	// and objects.
	clear(d.items)
	clear(d.members)
	d.items, d.members, d.data = d.items[:0], d.members[:0], nil
	decoders.Put(d)
}

func (d *jsonDecoder) skipSpace() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value decodes the value at d.i (after any space).
func (d *jsonDecoder) value() (any, error) {
	if d.i >= len(d.data) {
		return nil, errNotDecoded
	}
	switch c := d.data[d.i]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		return d.strValue()
	case 't':
		if len(d.data)-d.i >= 4 && string(d.data[d.i:d.i+4]) == "true" {
			d.i += 4
			return true, nil
		}
	case 'f':
		if len(d.data)-d.i >= 5 && string(d.data[d.i:d.i+5]) == "false" {
			d.i += 5
			return false, nil
		}
	case 'n':
		if len(d.data)-d.i >= 4 && string(d.data[d.i:d.i+4]) == "null" {
			d.i += 4
			return nil, nil
		}
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return d.number()
		}
	}
	return nil, errNotDecoded
}

// open counts the value and the nesting of the array or object at d.i.
func (d *jsonDecoder) open() error {
	d.i++
	if d.values++; d.values > d.limit {
		return errTooManyValues
	}
	if d.depth++; d.depth > maxJSONDepth {
		return errNotDecoded
	}
	d.skipSpace()
	return nil
}

// next reads the comma after an element, or the closing bracket. It
// reports whether an element follows.
func (d *jsonDecoder) next(closing byte) (bool, error) {
	d.skipSpace()
	if d.i >= len(d.data) {
		return false, errNotDecoded
	}
	switch d.data[d.i] {
	case ',':
		d.i++
		if d.values++; d.values > d.limit {
			return false, errTooManyValues
		}
		d.skipSpace()
		return true, nil
	case closing:
		d.i++
		d.depth--
		return false, nil
	}
	return false, errNotDecoded
}

func (d *jsonDecoder) object() (any, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		d.depth--
		return map[string]any{}, nil
	}
	mark := len(d.members)
	for {
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, errNotDecoded
		}
		k, ok := d.key()
		if !ok {
			return nil, errNotDecoded
		}
		d.skipSpace()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, errNotDecoded
		}
		d.i++
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.members = append(d.members, jsonMember{k, v})
		more, err := d.next('}')
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
	}
	ms := d.members[mark:]
	m := make(map[string]any, len(ms))
	for _, e := range ms {
		m[e.key] = e.val // the last of duplicate keys wins
	}
	if len(m) < len(ms) {
		d.irregular = true
	}
	clear(ms) // no references kept in the scratch
	d.members = d.members[:mark]
	return m, nil
}

func (d *jsonDecoder) array() (any, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		d.depth--
		return []any{}, nil
	}
	mark := len(d.items)
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.items = append(d.items, v)
		more, err := d.next(']')
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
	}
	a := make([]any, len(d.items)-mark)
	copy(a, d.items[mark:])
	clear(d.items[mark:]) // no references kept in the scratch
	d.items = d.items[:mark]
	return a, nil
}

// plain is the bytes that stand for themselves in a string: ASCII from the
// space up, but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// strValue decodes the string whose opening quote is at d.i. The usual
// strings of Kubernetes objects (jsonintern.go) are neither allocated nor
// boxed in an interface again.
func (d *jsonDecoder) strValue() (any, error) {
	s, e, ok := d.str()
	switch {
	case !ok:
		return nil, errNotDecoded
	case e != nil:
		return e.v, nil
	}
	return s, nil
}

// key is strValue for an object key, and the usual keys are not allocated
// again.
func (d *jsonDecoder) key() (string, bool) {
	s, e, ok := d.str()
	if e != nil {
		return e.s, true
	}
	return s, ok
}

// str decodes the string whose opening quote is at d.i: its interned entry
// when it is a usual one without escapes, else the string.
func (d *jsonDecoder) str() (string, *internEntry, bool) {
	start := d.i + 1
	switch i, closed := d.plainUntil(start); {
	case closed:
		d.i = i + 1
		b := d.data[start:i]
		if e := interned(b); e != nil {
			return "", e, true
		}
		return string(b), nil, true
	case i >= 0:
		s, ok := d.strSlow(start, i)
		return s, nil, ok
	}
	return "", nil, false
}

// plainUntil is the index of the first byte from start on that is not
// plain, and whether it is the closing quote; -1 if the text ends first.
func (d *jsonDecoder) plainUntil(start int) (int, bool) {
	for i := start; i < len(d.data); i++ {
		if c := d.data[i]; !plain[c] {
			return i, c == '"'
		}
	}
	return -1, false
}

// strSlow finishes the string from data[start:], with the plain bytes
// up to i, when it has escapes, non-ASCII bytes or control characters: it
// takes what encoding/json's scanner takes, and unquotes it as
// encoding/json's unquote does (escapes, invalid UTF-8 and invalid
// surrogate escapes as U+FFFD), in the same pass.
func (d *jsonDecoder) strSlow(start, i int) (string, bool) {
	data := d.data
	buf := append(d.buf[:0], data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case plain[c]:
			j := i + 1
			for j < len(data) && plain[data[j]] {
				j++
			}
			buf = append(buf, data[i:j]...)
			i = j
		case c == '"':
			d.i, d.buf = i+1, buf
			return string(buf), true
		case c == '\\':
			if i+1 >= len(data) {
				return "", false
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				rr := getu4(data[i:])
				if rr < 0 {
					return "", false
				}
				i += 6
				if utf16.IsSurrogate(rr) {
					// getu4 takes only an escape, in the string as in unquote.
					rr1 := getu4(data[i:])
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						// A valid pair; consume.
						i += 6
						buf = utf8.AppendRune(buf, dec)
						continue
					}
					// Invalid surrogate; fall back to replacement rune.
					rr = unicode.ReplacementChar
					d.irregular = true
				}
				buf = utf8.AppendRune(buf, rr)
				continue
			default:
				return "", false
			}
			i += 2
		case c < ' ':
			return "", false
		default:
			// Coerce to well-formed UTF-8 (a rune does not run past the
			// closing quote: it is no continuation byte).
			rr, size := utf8.DecodeRune(data[i:])
			if rr == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, rr)
				d.irregular = true
			} else {
				buf = append(buf, data[i:i+size]...)
			}
			i += size
		}
	}
	return "", false
}

// getu4 decodes \uXXXX from the beginning of s, returning the hex value,
// or it returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// number decodes the number at d.i (a '-' or a digit): an int64 when it
// has no '.' and fits, else a float64, as utiljson does.
func (d *jsonDecoder) number() (any, error) {
	data, start := d.data, d.i
	i := start
	if data[i] == '-' {
		i++
	}
	digits := i
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		for i++; i < len(data) && '0' <= data[i] && data[i] <= '9'; i++ {
		}
	default:
		return nil, errNotDecoded
	}
	intEnd, dot := i, false
	if i < len(data) && data[i] == '.' {
		dot = true
		i++
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return nil, errNotDecoded
		}
		for i++; i < len(data) && '0' <= data[i] && data[i] <= '9'; i++ {
		}
	}
	exp := false
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		exp = true
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return nil, errNotDecoded
		}
		for i++; i < len(data) && '0' <= data[i] && data[i] <= '9'; i++ {
		}
	}
	d.i = i
	if !dot && !exp {
		// Up to 18 digits always fit an int64.
		if intEnd-digits <= 18 {
			var n int64
			for _, c := range data[digits:intEnd] {
				n = n*10 + int64(c-'0')
			}
			if digits > start {
				n = -n
			}
			return n, nil
		}
		if n, err := strconv.ParseInt(string(data[start:i]), 10, 64); err == nil {
			return n, nil
		}
		// An integer beyond int64 is a float64 here, as in utiljson;
		// json-iterator would wrap it around in an integer field, so the
		// typed object comes from the converter.
		d.irregular = true
	}
	// A number with an exponent and no '.' is a float64 too: ParseInt
	// does not take the exponent.
	f, err := strconv.ParseFloat(string(data[start:i]), 64)
	if err != nil {
		return nil, errNotDecoded
	}
	return f, nil
}
