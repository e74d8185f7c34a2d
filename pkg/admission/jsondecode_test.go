package admission

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// utiljsonValues is what decodeValues replaces: the values counted before
// utiljson decodes the text.
func utiljsonValues(raw []byte, limit int) (any, error) {
	if countValues(raw, limit) > limit {
		return nil, fmt.Errorf("more than %d values; microguard evaluates at most %d", limit, limit)
	}
	var v any
	if err := utiljson.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// sameJSON reports whether a and b are the same decoded JSON: the same
// types at every level and the same float64 bits (reflect.DeepEqual takes
// -0.0 for 0.0), and where they differ.
func sameJSON(a, b any) (string, bool) {
	switch a := a.(type) {
	case nil:
		return "", b == nil
	case bool, string, int64:
		return "", a == b
	case float64:
		b, ok := b.(float64)
		return "", ok && math.Float64bits(a) == math.Float64bits(b)
	case []any:
		b, ok := b.([]any)
		if !ok || b == nil || len(a) != len(b) {
			return "", false
		}
		for i := range a {
			if at, ok := sameJSON(a[i], b[i]); !ok {
				return fmt.Sprintf("[%d]%s", i, at), false
			}
		}
		return "", true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || b == nil || len(a) != len(b) {
			return "", false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok {
				return fmt.Sprintf(".%q", k), false
			}
			if at, ok := sameJSON(av, bv); !ok {
				return fmt.Sprintf(".%q%s", k, at), false
			}
		}
		return "", true
	}
	return fmt.Sprintf(" (%T)", a), false
}

// checkDecodeJSON holds decodeJSON and decodeValues to utiljson and
// utiljsonValues on raw.
func checkDecodeJSON(t *testing.T, raw []byte) {
	t.Helper()
	var want any
	wantErr := utiljson.Unmarshal(raw, &want)
	got, err := decodeJSON(raw, math.MaxInt)
	switch {
	case wantErr != nil && err == nil:
		t.Fatalf("decodeJSON(%q) = %#v; utiljson: %v", raw, got, wantErr)
	case wantErr == nil && err != nil:
		t.Fatalf("decodeJSON(%q): %v; utiljson: %#v", raw, err, want)
	case err != nil && err != errNotDecoded:
		t.Fatalf("decodeJSON(%q): %v, want errNotDecoded", raw, err)
	case err == nil:
		if at, ok := sameJSON(got, want); !ok {
			t.Fatalf("decodeJSON(%q) = %#v; utiljson: %#v (differ at %s)", raw, got, want, at)
		}
	}
	// The count of values, and the errors at and below it.
	n := countValues(raw, math.MaxInt)
	for _, limit := range []int{0, 1, 2, 3, n - 1, n, n + 1} {
		if limit < 0 {
			continue
		}
		want, wantErr := utiljsonValues(raw, limit)
		got, err := decodeValues(raw, limit)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("decodeValues(%q, %d): %v; before: %v", raw, limit, err, wantErr)
		}
		if at, ok := sameJSON(got, want); !ok {
			t.Fatalf("decodeValues(%q, %d) = %#v; before: %#v (differ at %s)", raw, limit, got, want, at)
		}
		if err == nil {
			if _, err := decodeJSON(raw, limit); err != nil {
				t.Fatalf("decodeJSON(%q, %d): %v, and utiljson decodes it", raw, limit, err)
			}
		}
	}
}

// jsonCases are the corners of utiljson's decoding, valid or not.
var jsonCases = []string{
	// Values.
	`{}`, `[]`, `null`, `true`, `false`, `""`, `"a"`, `{"a":null}`,
	`[[],{},[{}],{"a":[]},{"a":{}}]`, `[null,true,false,"",0,{}]`,
	// Space is ' ', \t, \r and \n, and nothing else.
	" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" :{ } } \n\t\r ", " [ ] ", "\v{}", "{}\f", "\u00a0{}", "{}\x00",
	// Integers are int64 when they fit, floats otherwise.
	`0`, `-0`, `1`, `-1`, `[0,1,255,256,-1,-255,-256]`, `123456789012345678`, `-123456789012345678`,
	`999999999999999999`, `-999999999999999999`, `1000000000000000000`, `1234567890123456789`,
	`9223372036854775807`, `-9223372036854775808`, `9223372036854775808`, `-9223372036854775809`,
	`9999999999999999999`, `-9999999999999999999`, `18446744073709551616`,
	`100000000000000000000000000000000000000000000000000000000000000000001`,
	`0000`, `00`, `01`, `-01`, `-00`, `1 2`,
	// Numbers with a '.' or an exponent.
	`0.0`, `-0.0`, `1.0`, `1.5`, `-1.5`, `0.1`, `1e3`, `1E3`, `1e+3`, `1e-3`, `-1e3`, `1e0`, `0e0`, `-0e0`,
	`1.0e3`, `1e18`, `1e19`, `123e-2`, `9223372036854775807.0`, `1.7976931348623157e308`, `1.7976931348623159e308`,
	`1e308`, `1e309`, `-1e309`, `1e400`, `-1e400`, `[1e400]`, `{"a":1e400}`, `{"a":1,"b":1e400,"c":"d"}`,
	`4.9e-324`, `2e-324`, `1e-400`, `-1e-400`, `2.2250738585072011e-308`, `0.30000000000000004`,
	`123456789012345678901234567890.5`, `1e` + strings.Repeat("9", 30), `1e-` + strings.Repeat("9", 30),
	"0." + strings.Repeat("0", 400) + "1", "1" + strings.Repeat("0", 400),
	// Not numbers.
	`-`, `--1`, `+1`, `.1`, `1.`, `1.e3`, `1e`, `1e+`, `1e-`, `1ee3`, `1.2.3`, `0x10`, `1_000`, `NaN`, `Infinity`,
	`-Infinity`, `[-]`, `[1.]`, `{"a":-}`, `[1e]`, `[01]`, `[.5]`, `1true`,
	// Literals.
	`t`, `tru`, `truex`, `True`, `nul`, `nulll`, `fals`, `falsey`, `[true,false,null]`, `[truefalse]`, `[nan]`,
	// Strings: escapes.
	`"\"\\\/\b\f\n\r\t"`, `"\u0000"`, `"\u001f"`, `"\u0041\u00e9\u4e16"`, `"\uFFFD"`, `"\uffff"`, `"\uFEFF"`,
	`"\'"`, `"\a"`, `"\x41"`, `"\0"`, `"\U0041"`, `"\u12"`, `"\u12G4"`, `"\u"`, `"\`, `"\"`, `"abc`, `"abc\"`,
	`["a\"b","c\\"]`, `{"a\"b":1}`, `{"\u0061":1,"a":2}`, `{"a":1,"\u0061":2}`,
	// Strings: surrogates.
	`"\ud83d\ude00"`, `"\uD83D\uDE00"`, `"\ud83d"`, `"\ude00"`, `"\ud83d\u0041"`, `"\ud83dx"`, `"\ud83d\ud83d\ude00"`,
	`"\ude00\ud83d"`, `"\ud83d\\"`, `"\ud83d\n"`, `"a\ud800"`, `"\udbff\udfff"`, `"\ud800\udc00"`, `"\ud83d\ude0"`,
	`{"\ud83d":1,"\ude00":2}`,
	// Strings: control characters are not allowed, DEL is.
	"\"a\x01b\"", "\"\t\"", "\"\n\"", "\"\x00\"", "\"\x1f\"", "\"\x7f\"", "{\"a\x01\":1}",
	// Strings: UTF-8, valid or not.
	`"é"`, `"世界"`, `"😀"`, "\"\xef\xbf\xbd\"", "\"\xff\"", "\"\xfe\xff\"", "\"a\xffb\\n\"", "\"\xed\xa0\x80\"",
	"\"\xc0\xaf\"", "\"\xc3\"", "\"\xf0\x9f\x98\"", "\"\xf0\x9f\x98\x80\xf0\"", "\"\xf4\x90\x80\x80\"",
	"\"\x80\x80\x80\"", "{\"\xff\":\"\xff\"}", "{\"\xffa\":1,\"\xfea\":2}", "\"" + strings.Repeat("\xff", 100) + "\"",
	"\"\xff\\u00e9\xff\"", "\xff", "{}\xff", "\xef\xbb\xbf{}", "[\"a\",\xff]",
	// Duplicate keys: the last wins.
	`{"a":1,"a":2}`, `{"a":{"b":1},"a":[1]}`, `{"a":[1],"a":{"b":1}}`, `{"a":1,"b":2,"a":3}`, `{"":1,"":2}`,
	`{"a":{"x":1,"x":{"y":2}},"a":{"x":null}}`,
	// Objects and arrays that are not.
	``, ` `, `{`, `}`, `[`, `]`, `{]`, `[}`, `{"a"}`, `{"a":}`, `{"a" 1}`, `{"a":1,}`, `{,}`, `{,"a":1}`, `[1,]`, `[,1]`, `[,]`,
	`{"a":1 "b":2}`, `[1 2]`, `{1:2}`, `{'a':1}`, `{a:1}`, `{"a"::1}`, `{"a":1}}`, `[1]]`, `{"a":1}x`, `{}{}`,
	`{} {}`, `[] []`, `{"a":[}`, `{"a":{]}`, `[{"a":1]`, `{"a":"b":"c"}`, `{null:1}`, `{"a",1}`, `[1:2]`,
	// A pod.
	`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","labels":{"app":"web"},"annotations":{"a":"{\"x\":[1,2]}"}},` +
		`"spec":{"containers":[{"name":"a","image":"b","ports":[{"containerPort":8080,"protocol":"TCP"}],` +
		`"resources":{"limits":{"cpu":"500m","memory":1.5e9}}}],"priority":0,"terminationGracePeriodSeconds":30}}`,
	// Punctuation in strings is not values.
	`{"a":",[{\"","b":"]}{[,"}`, `["\\",",","\\\"",","]`,
}

func TestDecodeJSONMatchesUtiljson(t *testing.T) {
	for _, c := range jsonCases {
		checkDecodeJSON(t, []byte(c))
	}
	for _, name := range []string{"testdata/pod.json", "testdata/deployment.json"} {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checkDecodeJSON(t, raw)
	}
}

func nestedJSON(n int, open, inner, close string) []byte {
	return []byte(strings.Repeat(open, n) + inner + strings.Repeat(close, n))
}

// encoding/json takes 10000 nested arrays and objects and no more; deeper
// nesting must not overflow the stack.
func TestDecodeJSONDepth(t *testing.T) {
	for _, tc := range []struct {
		n           int
		open, close string
		inner       string
	}{
		{1, "[", "]", ""},
		{maxJSONDepth, "[", "]", ""},
		{maxJSONDepth, "[", "]", "1"},
		{maxJSONDepth, `{"a":`, "}", "1"},
		{maxJSONDepth, `{"a":`, "}", "{}"},
		{maxJSONDepth, `[{"a":`, "}]", ""},
		{maxJSONDepth - 1, "[", "]", "{}"},
		{maxJSONDepth + 1, "[", "]", ""},
		{maxJSONDepth + 1, `{"a":`, "}", "1"},
		{maxJSONDepth, "[", "]", "[]"},
		{maxJSONDepth, `{"a":`, "}", "[]"},
		{200000, "[", "]", ""},
		{200000, `{"a":`, "}", "1"},
		{200000, "[", "", ""},
	} {
		raw := nestedJSON(tc.n, tc.open, tc.inner, tc.close)
		var want any
		wantErr := utiljson.Unmarshal(raw, &want)
		got, err := decodeJSON(raw, math.MaxInt)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%d × %s%s%s: decodeJSON: %v; utiljson: %v", tc.n, tc.open, tc.inner, tc.close, err, wantErr)
		}
		if at, ok := sameJSON(got, want); !ok {
			t.Fatalf("%d × %s%s%s: decodeJSON and utiljson differ at %.100s", tc.n, tc.open, tc.inner, tc.close, at)
		}
		if _, err := decodeValues(raw, MaxValues); (err == nil) != (wantErr == nil) {
			t.Fatalf("%d × %s%s%s: decodeValues: %v; utiljson: %v", tc.n, tc.open, tc.inner, tc.close, err, wantErr)
		}
	}
}

// Past the limit, decodeJSON stops with errTooManyValues, for the error of
// countValues.
func TestDecodeJSONStopsAtTheLimit(t *testing.T) {
	labels := func(n int) []byte {
		ls := make([]string, n)
		for i := range ls {
			ls[i] = fmt.Sprintf(`"l%d":"v"`, i)
		}
		return []byte(`{"metadata":{"labels":{` + strings.Join(ls, ",") + `}}}`)
	}
	at := labels(MaxValues - 2) // three objects, MaxValues-3 commas
	if n := countValues(at, math.MaxInt); n != MaxValues {
		t.Fatalf("countValues = %d, want %d", n, MaxValues)
	}
	if _, err := decodeJSON(at, MaxValues); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	over := labels(MaxValues - 1)
	if _, err := decodeJSON(over, MaxValues); err != errTooManyValues {
		t.Fatalf("over the limit: %v, want errTooManyValues", err)
	}
	// Invalid text past the limit is refused for its values, as before.
	for _, raw := range [][]byte{
		append(labels(MaxValues), 'x'),
		append([]byte(`{"a":1}`), strings.Repeat(",", MaxValues)...),
		append([]byte(`{"a":`), strings.Repeat("[", MaxValues+1)...),
	} {
		_, err := decodeValues(raw, MaxValues)
		if _, before := utiljsonValues(raw, MaxValues); err == nil || err.Error() != before.Error() {
			t.Fatalf("decodeValues: %v; before: %v", err, before)
		}
		if !strings.HasPrefix(err.Error(), "more than") {
			t.Fatalf("decodeValues: %v; want the values refused", err)
		}
	}
}

// The errors users read are utiljson's.
func TestDecodeObjectErrors(t *testing.T) {
	for raw, want := range map[string]string{
		`{"a":1e400}`: "json: cannot unmarshal number 1e400 into Go value of type float64",
		`{"a":1,}`:    "invalid character '}' looking for beginning of object key string",
		`{"a":1}x`:    "invalid character 'x' after top-level value",
		`[1]`:         "object is not a JSON object",
		``:            "unexpected end of JSON input",
	} {
		_, err := decodeObject([]byte(raw))
		if err == nil || err.Error() != want {
			t.Errorf("decodeObject(%q): %v, want %q", raw, err, want)
		}
	}
	_, err := decodeObject(nestedJSON(maxJSONDepth+1, "[", "", "]"))
	if err == nil || !strings.Contains(err.Error(), "exceeded max depth") {
		t.Errorf("decodeObject(10001 nested arrays): %v", err)
	}
}

// The scratch of a decoder holds no values once it is back in the pool.
func TestDecodeJSONLeavesNoValuesInThePool(t *testing.T) {
	for _, raw := range []string{`{"a":[1,{"b":"c"}],"d":"e"}`, `{"a":[1,{"b":"c"}],"d":}`, `[[1,2],[3,`} {
		d := getDecoder([]byte(raw), math.MaxInt)
		d.skipSpace()
		_, _ = d.value()
		putDecoder(d)
		for _, v := range d.items[:cap(d.items)] {
			if v != nil {
				t.Fatalf("%s: item %#v left", raw, v)
			}
		}
		for _, m := range d.members[:cap(d.members)] {
			if m != (jsonMember{}) {
				t.Fatalf("%s: member %#v left", raw, m)
			}
		}
		if d.data != nil {
			t.Fatalf("%s: data left", raw)
		}
	}
}

// Every usual key and string is in the table, which stays at most half
// full (a miss probes up to an empty slot), and nothing else is.
func TestInternTable(t *testing.T) {
	n := 0
	for _, e := range internTable {
		if e.s != "" {
			n++
			if e.v != any(e.s) {
				t.Fatalf("entry %q boxes %#v", e.s, e.v)
			}
		}
	}
	if n > len(internTable)/2 {
		t.Fatalf("%d strings in a table of %d", n, len(internTable))
	}
	for _, s := range append(append([]string{}, commonKeys...), commonStrings...) {
		if e := interned([]byte(s)); e == nil || e.s != s {
			t.Fatalf("%q not interned", s)
		}
		if e := interned([]byte("f:" + s)); slices.Contains(commonKeys, s) && (e == nil || e.s != "f:"+s) {
			t.Fatalf("%q not interned", "f:"+s)
		}
	}
	for _, s := range []string{"", "x", "nam", "namee", "Name", "web-7d4b9c8f6d-x2k9p", "f:", "f:web"} {
		if e := interned([]byte(s)); e != nil {
			t.Fatalf("%q interned", s)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c))
	}
	for _, name := range []string{"testdata/pod.json", "testdata/deployment.json"} {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add(nestedJSON(maxJSONDepth+1, "[", "", "]"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecodeJSON(t, raw)
	})
}

func BenchmarkDecodeObject(b *testing.B) {
	for _, name := range []string{"pod", "deployment"} {
		raw, err := os.ReadFile("testdata/" + name + ".json")
		if err != nil {
			b.Fatal(err)
		}
		for _, dec := range []struct {
			name   string
			decode func([]byte, int) (any, error)
		}{
			{"utiljson", utiljsonValues},
			{"decodeJSON", decodeValues},
		} {
			b.Run(fmt.Sprintf("%s/%s", name, dec.name), func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				for b.Loop() {
					v, err := dec.decode(raw, MaxValues)
					if err != nil {
						b.Fatal(err)
					}
					if _, ok := v.(map[string]any); !ok {
						b.Fatal(errors.New("not an object"))
					}
				}
			})
		}
	}
}
