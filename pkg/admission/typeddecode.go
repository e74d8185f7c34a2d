package admission

import (
	"encoding/json"
	"errors"
	"reflect"
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

// writtenAgainAsIs reports whether text is a string that encoding/json
// writes again as the same text: printable ASCII without escapes or the
// characters it escapes (<, >, &).
func writtenAgainAsIs(text []byte) bool {
	if len(text) < 2 || text[0] != '"' || text[len(text)-1] != '"' {
		return false
	}
	for _, c := range text[1 : len(text)-1] {
		if c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
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
