package admission

import (
	"encoding/json"
	"errors"
	"reflect"
	"unicode/utf8"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	"github.com/modern-go/reflect2"
	"k8s.io/apimachinery/pkg/runtime"
)

// typedJSON decodes the raw text of a regular object (decodeObjectRegular)
// straight into its typed object, in less than half the time
// runtime.DefaultUnstructuredConverter.FromUnstructured takes on the
// decoded map (BenchmarkTypedDecode), to the same value (the differential
// tests and FuzzTypedDecode hold it to that). It is
// the configuration Kubernetes used (CaseSensitive, as the converter), but:
//
//   - unknown fields are errors (and take the converter): with them
//     allowed, jsoniter matches the keys of structs of up to 10 fields by
//     a 64-bit hash, and a key that collides with a field's name would be
//     decoded into that field;
//   - struct field names are compared as written (a name with an escape
//     is unknown, so an error);
//   - the types with an UnmarshalJSON method are given what the converter
//     gives them (unmarshalerDecoder), not the text as written.
//
// Text that is not regular (duplicate keys, which jsoniter decodes into
// the earlier value rather than replacing it; invalid UTF-8 or surrogate
// escapes, which it does not replace as encoding/json does) is not
// given to it.
var typedJSON = func() jsoniter.API {
	api := jsoniter.Config{
		EscapeHTML:             true,
		SortMapKeys:            true,
		ValidateJsonRawMessage: true,
		CaseSensitive:          true,
		DisallowUnknownFields:  true,
		// Field names are matched as written, without an allocation: an
		// escape in one makes it unknown (an error), never another field.
		ObjectFieldMustBeSimpleString: true,
	}.Froze()
	api.RegisterExtension(&typedExtension{})
	return api
}()

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

type typedExtension struct{ jsoniter.DummyExtension }

// CreateDecoder takes the types the converter decodes with their
// UnmarshalJSON (those whose pointer has it: resource.Quantity,
// metav1.Time, metav1.FieldsV1, intstr.IntOrString in the pod kinds).
func (*typedExtension) CreateDecoder(typ reflect2.Type) jsoniter.ValDecoder {
	if typ.Kind() != reflect.Pointer && reflect.PointerTo(typ.Type1()).Implements(jsonUnmarshaler) {
		return unmarshalerDecoder{typ}
	}
	return nil
}

// unmarshalerDecoder gives UnmarshalJSON what the converter gives it
// (value.TypeReflectCacheEntry.FromUnstructured): the value as
// encoding/json writes the decoded value again; null is the zero value.
type unmarshalerDecoder struct{ typ reflect2.Type }

func (d unmarshalerDecoder) Decode(ptr unsafe.Pointer, iter *jsoniter.Iterator) {
	text := iter.SkipAndReturnBytes()
	if iter.Error != nil {
		return
	}
	if !writtenAgainAsIs(text) {
		v, err := decodeJSON(text, MaxValues)
		if err != nil {
			iter.ReportError("UnmarshalJSON", err.Error())
			return
		}
		if v == nil {
			d.typ.UnsafeSet(ptr, d.typ.UnsafeNew())
			return
		}
		if text, err = json.Marshal(v); err != nil {
			iter.ReportError("UnmarshalJSON", err.Error())
			return
		}
	}
	u := d.typ.PackEFace(ptr).(json.Unmarshaler)
	if err := u.UnmarshalJSON(text); err != nil {
		iter.ReportError("UnmarshalJSON", err.Error())
	}
}

// writtenAgainAsIs reports whether encoding/json writes what decodeJSON
// decodes from text again as text itself, so that unmarshalerDecoder can
// skip that round trip (a FieldsV1 of managedFields, in every object the
// API server sends, is such an object; quantities and times are such
// strings). It is sure when it says so, and says no to what it is not sure
// of: null (the zero value, not UnmarshalJSON), space between tokens, keys
// out of order or repeated, numbers other than integers of up to 18 digits
// in their shortest form, escapes other than \" and \\, the characters
// encoding/json escapes (<, >, &, U+2028, U+2029), invalid UTF-8, and
// nesting deeper than maxCanonicalDepth.
func writtenAgainAsIs(text []byte) bool {
	if string(text) == "null" {
		return false
	}
	end, ok := canonicalValue(text, 0, 0)
	return ok && end == len(text)
}

// maxCanonicalDepth bounds the nesting writtenAgainAsIs follows (a
// FieldsV1 nests as deep as the object it describes).
const maxCanonicalDepth = 64

// canonicalValue checks the value at b[i] and returns where it ends.
func canonicalValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		return canonicalString(b, i)
	case c == '{' || c == '[':
		if depth >= maxCanonicalDepth {
			return 0, false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i++
		if i < len(b) && b[i] == closing {
			return i + 1, true
		}
		var prev []byte
		for first := true; ; first = false {
			if c == '{' {
				// encoding/json writes a map's keys in increasing order.
				end, ok := canonicalString(b, i)
				if !ok || end >= len(b) || b[end] != ':' {
					return 0, false
				}
				key := b[i+1 : end-1]
				if !first && compareUnescaped(prev, key) >= 0 {
					return 0, false
				}
				prev, i = key, end+1
			}
			var ok bool
			if i, ok = canonicalValue(b, i, depth+1); !ok || i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i++
			case closing:
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
				return i + len(lit), true
			}
		}
		return 0, false
	case c == '-' || '0' <= c && c <= '9':
		// An int64, which encoding/json writes in its shortest form: no
		// leading zero, no -0, up to 18 digits (so it fits).
		start := i
		if c == '-' {
			i++
		}
		digits := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		n := i - digits
		switch {
		case n == 0 || n > 18 || b[digits] == '0' && (n > 1 || digits > start):
			return 0, false
		case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E'):
			return 0, false
		}
		return i, true
	}
	return 0, false
}

// canonicalString checks the string whose opening quote is at b[i] and
// returns where it ends.
func canonicalString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	for i++; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= len(b) || b[i+1] != '"' && b[i+1] != '\\' {
				return 0, false
			}
			i += 2
		case c < ' ' || c == '<' || c == '>' || c == '&':
			return 0, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
				return 0, false
			}
			i += size
		}
	}
	return 0, false
}

// compareUnescaped compares two string contents as written by
// canonicalString (escapes \" and \\ only) by their unescaped bytes, as
// encoding/json orders a map's keys.
func compareUnescaped(a, b []byte) int {
	next := func(s []byte) (byte, []byte) {
		if s[0] == '\\' {
			return s[1], s[2:]
		}
		return s[0], s[1:]
	}
	for len(a) > 0 && len(b) > 0 {
		var ca, cb byte
		ca, a = next(a)
		cb, b = next(b)
		if ca != cb {
			return int(ca) - int(cb)
		}
	}
	return len(a) - len(b)
}

// decodeObjectRegular is decodeObject, and reports whether the text is
// regular enough for typedJSON (decodeValuesRegular).
func decodeObjectRegular(raw []byte) (map[string]any, bool, error) {
	v, regular, err := decodeValuesRegular(raw, MaxValues)
	if err != nil {
		return nil, false, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, false, errors.New("object is not a JSON object")
	}
	return obj, regular, nil
}

// typedDecode decodes the object into its typed object: from its raw text
// with typedJSON when it is regular and typedJSON takes it, else (and for
// the converter's error) from its decoded map obj.
func typedDecode(obj map[string]any, raw []byte, regular bool, pk podKind) (runtime.Object, error) {
	if regular {
		typed := pk.typed()
		if typedJSON.Unmarshal(raw, typed) == nil {
			return typed, nil
		}
	}
	typed := pk.typed()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, typed); err != nil {
		return nil, err
	}
	return typed, nil
}
