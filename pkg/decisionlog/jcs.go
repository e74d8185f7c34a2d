package decisionlog

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// appendCanonical appends the RFC 8785 (JCS) form of the JSON text data to
// out, leaving out the top-level member named skip ("": none): members
// sorted by their UTF-16 code units, strings escaped as ECMAScript's
// JSON.stringify does, numbers in ECMAScript's shortest form, no
// whitespace. It reads one JSON text in a single pass (a record is hashed
// on every commit, so this is a hot path), and refuses what JCS refuses:
// duplicate keys, lone surrogates, numbers out of range.
func appendCanonical(out, data []byte, skip string) ([]byte, error) {
	p := jcsParser{data: data}
	p.space()
	out, err := p.value(out, skip)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.data) {
		return nil, p.errorf("text after the JSON value")
	}
	return out, nil
}

type jcsParser struct {
	data []byte
	i    int
	// vals[d] holds the canonical member values of the object being read
	// at nesting depth d (reused by the next object at that depth).
	vals  [][]byte
	depth int
}

type jcsMember struct {
	key        []byte
	start, end int // the canonical value in the object's vals
}

func (p *jcsParser) errorf(format string, args ...any) error {
	return fmt.Errorf("canonical JSON: offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jcsParser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jcsParser) value(out []byte, skip string) ([]byte, error) {
	if p.i >= len(p.data) {
		return nil, p.errorf("unexpected end")
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(out, skip)
	case c == '[':
		return p.array(out)
	case c == '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return AppendJSONString(out, string(s)), nil
	case c == 't':
		return p.literal(out, "true")
	case c == 'f':
		return p.literal(out, "false")
	case c == 'n':
		return p.literal(out, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(out)
	}
	return nil, p.errorf("unexpected %q", p.data[p.i])
}

func (p *jcsParser) literal(out []byte, lit string) ([]byte, error) {
	if !bytes.HasPrefix(p.data[p.i:], []byte(lit)) {
		return nil, p.errorf("invalid literal")
	}
	p.i += len(lit)
	return append(out, lit...), nil
}

func (p *jcsParser) object(out []byte, skip string) ([]byte, error) {
	p.i++ // {
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return append(out, "{}"...), nil
	}
	d := p.depth
	if d == len(p.vals) {
		p.vals = append(p.vals, nil)
	}
	p.depth++
	defer func() { p.depth-- }()
	vals := p.vals[d][:0]
	var members []jcsMember
	for {
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, p.errorf("expected a member name")
		}
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, p.errorf("expected ':'")
		}
		p.i++
		p.space()
		start := len(vals)
		if vals, err = p.value(vals, ""); err != nil {
			return nil, err
		}
		if skip == "" || string(key) != skip {
			members = append(members, jcsMember{key, start, len(vals)})
		}
		p.space()
		if p.i >= len(p.data) {
			return nil, p.errorf("unexpected end in an object")
		}
		if p.data[p.i] == ',' {
			p.i++
			continue
		}
		if p.data[p.i] != '}' {
			return nil, p.errorf("expected ',' or '}'")
		}
		p.i++
		break
	}
	p.vals[d] = vals
	slices.SortFunc(members, func(a, b jcsMember) int { return compareUTF16(a.key, b.key) })
	out = append(out, '{')
	for i, m := range members {
		if i > 0 {
			if bytes.Equal(members[i-1].key, m.key) {
				return nil, fmt.Errorf("canonical JSON: duplicate member %q", m.key)
			}
			out = append(out, ',')
		}
		out = AppendJSONString(out, string(m.key))
		out = append(out, ':')
		out = append(out, vals[m.start:m.end]...)
	}
	return append(out, '}'), nil
}

func (p *jcsParser) array(out []byte) ([]byte, error) {
	p.i++ // [
	out = append(out, '[')
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return append(out, ']'), nil
	}
	for n := 0; ; n++ {
		if n > 0 {
			out = append(out, ',')
		}
		p.space()
		var err error
		if out, err = p.value(out, ""); err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.data) {
			return nil, p.errorf("unexpected end in an array")
		}
		if p.data[p.i] == ',' {
			p.i++
			continue
		}
		if p.data[p.i] != ']' {
			return nil, p.errorf("expected ',' or ']'")
		}
		p.i++
		return append(out, ']'), nil
	}
}

// string reads a JSON string and returns its value (a part of the text
// when it has no escapes).
func (p *jcsParser) string() ([]byte, error) {
	p.i++ // "
	start := p.i
	// Fast path: no escapes.
	for p.i < len(p.data) {
		c := p.data[p.i]
		if c == '"' {
			s := p.data[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				return nil, p.errorf("invalid UTF-8 in a string")
			}
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, p.errorf("control character in a string")
		}
		p.i++
	}
	buf := append([]byte(nil), p.data[start:p.i]...)
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			if !utf8.Valid(buf) {
				return nil, p.errorf("invalid UTF-8 in a string")
			}
			return buf, nil
		case c < 0x20:
			return nil, p.errorf("control character in a string")
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.data) {
			break
		}
		e := p.data[p.i+1]
		p.i += 2
		switch e {
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
			r, ok := p.hex4()
			if !ok {
				return nil, p.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
					p.i += 2
					if r2, ok = p.hex4(); !ok {
						return nil, p.errorf("invalid \\u escape")
					}
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return nil, p.errorf("lone surrogate in a string")
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return nil, p.errorf("invalid escape \\%c", e)
		}
	}
	return nil, p.errorf("unterminated string")
}

func (p *jcsParser) hex4() (rune, bool) {
	if p.i+4 > len(p.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.data[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

func (p *jcsParser) number(out []byte) ([]byte, error) {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	if n := digits(); n == 0 || (n > 1 && p.data[intStart] == '0') {
		return nil, p.errorf("invalid number")
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	f, err := strconv.ParseFloat(string(p.data[start:p.i]), 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, p.errorf("number %s out of range", p.data[start:p.i])
	}
	return appendES6Number(out, f), nil
}

// appendES6Number writes f as ECMAScript's Number.prototype.toString does:
// shortest round-trip digits, exponent form below 1e-6 and from 1e21.
func appendES6Number(out []byte, f float64) []byte {
	if f == 0 {
		return append(out, '0') // also -0
	}
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	start := len(out)
	out = strconv.AppendFloat(out, f, format, -1, 64)
	if format == 'e' {
		// Go writes e-07, ECMAScript e-7.
		if n := len(out); n-start >= 4 && out[n-4] == 'e' && out[n-3] == '-' && out[n-2] == '0' {
			out[n-2] = out[n-1]
			out = out[:n-1]
		}
	}
	return out
}

// AppendJSONString appends s as a JSON string, as RFC 8785 (JSON.stringify)
// writes it: quotes, backslashes and control characters escaped (\b \t \n
// \f \r, else \u00xx), the rest as is, and each byte that is not part of
// valid UTF-8 as U+FFFD (as json.Marshal writes it). The decision log's
// canonical form and the webhook's JSON patch are written with it.
func AppendJSONString(out []byte, s string) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			out = append(out, s[start:i]...)
			switch c {
			case '"', '\\':
				out = append(out, '\\', c)
			case '\b':
				out = append(out, '\\', 'b')
			case '\t':
				out = append(out, '\\', 't')
			case '\n':
				out = append(out, '\\', 'n')
			case '\f':
				out = append(out, '\\', 'f')
			case '\r':
				out = append(out, '\\', 'r')
			default:
				out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, s[start:i]...)
			out = append(out, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	out = append(out, s[start:]...)
	return append(out, '"')
}

// compareUTF16 orders strings by their UTF-16 code units, as JCS sorts
// member names (UTF-8 byte order differs only past U+FFFF).
func compareUTF16(a, b []byte) int {
	if !supplementary(a) && !supplementary(b) {
		return bytes.Compare(a, b) // code point order is UTF-16 order here
	}
	for len(a) > 0 && len(b) > 0 {
		ra, na := utf8.DecodeRune(a)
		rb, nb := utf8.DecodeRune(b)
		if ra != rb {
			if ra < 0x10000 && rb < 0x10000 {
				return int(ra) - int(rb)
			}
			return slices.Compare(utf16.AppendRune(nil, ra), utf16.AppendRune(nil, rb))
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// supplementary reports whether s holds a character past U+FFFF (a 4-byte
// UTF-8 sequence).
func supplementary(s []byte) bool {
	for _, c := range s {
		if c >= 0xf0 {
			return true
		}
	}
	return false
}
