package decisionlog

import (
	"encoding/json"
	"testing"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
)

// The RFC 8785 examples and the corners: the canonical form must be the
// reference implementation's (cyberphone's, which the RFC cites).
var jcsCases = []string{
	`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}`,
	`{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}`,
	`[-0, 0, 1, -1, 1e21, 1e20, 123456789012345678901, 1e-6, 1e-7, 5e-324, 1.7976931348623157e308, 0.1, 100, 9007199254740993]`,
	`{"a": {"b": [], "a": {}}, "": "empty key", "A": "<>&\u2028\u2029\u007f"}`,
	`  {"z" : 1 ,"y":[ 1 , {"b":2,"a":1} ]}  `,
	`[]`,
}

func TestCanonicalIsRFC8785(t *testing.T) {
	for _, in := range jcsCases {
		want, err := jsoncanonicalizer.Transform([]byte(in))
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		got, err := appendCanonical(nil, []byte(in), "")
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", in, got, want)
		}
	}
}

func TestCanonicalSkipsTopLevelMemberOnly(t *testing.T) {
	got, err := appendCanonical(nil, []byte(`{"hash":"x","b":{"hash":"kept"},"a":1}`), "hash")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":1,"b":{"hash":"kept"}}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestCanonicalRefusesWhatJCSRefuses(t *testing.T) {
	for _, in := range []string{`{"a":1,"a":2}`, `"\ud800"`, `[1e400]`, `{"a":1} x`, `{"a" 1}`, `[01]`, `"\x"`, `tru`, ``, "\"a\x01\""} {
		if _, err := appendCanonical(nil, []byte(in), ""); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// FuzzCanonical holds appendCanonical to the reference implementation on
// any JSON text encoding/json accepts and re-encodes.
func FuzzCanonical(f *testing.F) {
	for _, c := range jcsCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		text, err := json.Marshal(v)
		if err != nil || (text[0] != '{' && text[0] != '[') {
			return // the reference reads only objects and arrays
		}
		want, werr := jsoncanonicalizer.Transform(text)
		got, gerr := appendCanonical(nil, text, "")
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s: reference error %v, ours %v", text, werr, gerr)
		}
		if werr == nil && string(got) != string(want) {
			t.Fatalf("%s:\n got %s\nwant %s", text, got, want)
		}
	})
}

func BenchmarkCanonical(b *testing.B) {
	r := record(1, false, "shop")
	if _, err := seal(r, 7, Genesis); err != nil {
		b.Fatal(err)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("rfc8785", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := appendCanonical(nil, raw, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jsoncanonicalizer.Transform(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
