package admission

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	"github.com/modern-go/reflect2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// typedJSON decodes the raw text of a regular object (decodeObjectRegular)
// straight into its typed object, in less than half the time
// runtime.DefaultUnstructuredConverter.FromUnstructured takes on the
// decoded map (BenchmarkTypedDecode), to the same value as the converter
// gives for the map without managedFields (withoutManagedFields; the
// differential tests and FuzzTypedDecode hold it to that). It is
// the configuration Kubernetes used (CaseSensitive, as the converter), but:
//
//   - unknown fields are errors (and take the converter): with them
//     allowed, jsoniter matches the keys of structs of up to 10 fields by
//     a 64-bit hash, and a key that collides with a field's name would be
//     decoded into that field;
//   - struct field names are compared as written (a name with an escape
//     is unknown, so an error);
//   - the types with an UnmarshalJSON method are given what the converter
//     gives them (unmarshalerDecoder), not the text as written;
//   - an ObjectMeta's managedFields is skipped, whatever its value: the
//     typed object is read by Pod Security and the mutators, which never
//     look at it. Decoding it was a fifth of the typed decode of a pod as
//     the API server sends it, and /mutate copied it and encoded it twice
//     more for its patch (controller-runtime's TransformStripManagedFields
//     drops it from cached objects for the same reason). The policies
//     still see it: their input is the decoded map.
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

// UpdateStructDescriptor skips ObjectMeta.ManagedFields (see typedJSON).
func (*typedExtension) UpdateStructDescriptor(sd *jsoniter.StructDescriptor) {
	if sd.Type.Type1() != objectMetaType {
		return
	}
	for _, b := range sd.Fields {
		if b.Field.Name() == "ManagedFields" {
			b.Decoder = skipDecoder{}
		}
	}
}

var objectMetaType = reflect.TypeFor[metav1.ObjectMeta]()

// skipDecoder leaves its field as it is (the zero value) and skips the
// value, any JSON value, in the text.
type skipDecoder struct{}

func (skipDecoder) Decode(_ unsafe.Pointer, iter *jsoniter.Iterator) { iter.Skip() }

// withoutManagedFields is obj with the managedFields of every ObjectMeta
// left out, for the converter to decode as typedJSON does. In the pod
// kinds an ObjectMeta is the value of every key named metadata (the
// object's, a template's, a volume claim template's) and no other object
// is. Only the maps and lists on the way to one are copied: obj itself is
// the policies' input.
func withoutManagedFields(obj map[string]any) map[string]any {
	out, _ := stripManagedFields(obj, false)
	return out.(map[string]any)
}

// stripManagedFields is v without the managedFields below it (and its own,
// if v is an ObjectMeta), and whether that is a copy.
func stripManagedFields(v any, objectMeta bool) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		var out map[string]any
		if _, ok := v["managedFields"]; ok && objectMeta {
			out = maps.Clone(v)
			delete(out, "managedFields")
		}
		for k, e := range v {
			if objectMeta && k == "managedFields" {
				continue
			}
			if w, copied := stripManagedFields(e, k == "metadata"); copied {
				if out == nil {
					out = maps.Clone(v)
				}
				out[k] = w
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case []any:
		// Lists are copied whole: this is the converter's path, the rare
		// one, which copies far more itself.
		out, copied := make([]any, len(v)), false
		for i, e := range v {
			var c bool
			out[i], c = stripManagedFields(e, false)
			copied = copied || c
		}
		if !copied {
			return v, false
		}
		return out, true
	}
	return v, false
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
// skip that round trip. The types with an UnmarshalJSON method in the pod
// kinds (resource.Quantity, metav1.Time, intstr.IntOrString; FieldsV1 is
// in managedFields, which typedJSON skips) are given strings of printable
// ASCII and integers, so it takes those: a string without escapes or the
// characters encoding/json escapes (<, >, &), and an integer of up to 18
// digits in its shortest form (no leading zero, no -0: an int64 that
// encoding/json writes the same). Anything else takes the round trip.
func writtenAgainAsIs(text []byte) bool {
	if len(text) >= 2 && text[0] == '"' && text[len(text)-1] == '"' {
		for _, c := range text[1 : len(text)-1] {
			if c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
		}
		return true
	}
	i := 0
	if i < len(text) && text[i] == '-' {
		i++
	}
	digits := text[i:]
	if len(digits) == 0 || len(digits) > 18 || digits[0] == '0' && (len(digits) > 1 || i > 0) {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
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
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(withoutManagedFields(obj), typed); err != nil {
		return nil, err
	}
	return typed, nil
}
