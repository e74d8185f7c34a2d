package server

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// patched allows with the JSON patch ops, encoded here rather than by
// controller-runtime's Response.Complete, which marshals each op through
// jsonpatch's MarshalJSON (a map per op, %q-quoted paths, and the values
// compacted and HTML-escaped again): about 5% of a /mutate's CPU. The
// values the mutator chain writes are JSON already and go out as they are.
func patched(ops []jsonpatch.Operation) (admission.Response, error) {
	buf := make([]byte, 0, 64*len(ops))
	buf = append(buf, '[')
	for i, op := range ops {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"op":`...)
		buf = appendJSONString(buf, op.Operation)
		buf = append(buf, `,"path":`...)
		buf = appendJSONString(buf, op.Path)
		switch v := op.Value.(type) {
		case nil:
			if op.Operation == "add" || op.Operation == "replace" {
				buf = append(buf, `,"value":null`...)
			}
		case json.RawMessage:
			if !json.Valid(v) {
				return admission.Response{}, fmt.Errorf("patch op %s %s: its value is not JSON", op.Operation, op.Path)
			}
			buf = append(buf, `,"value":`...)
			buf = append(buf, v...)
		default:
			data, err := json.Marshal(v)
			if err != nil {
				return admission.Response{}, fmt.Errorf("patch op %s %s: %w", op.Operation, op.Path, err)
			}
			buf = append(buf, `,"value":`...)
			buf = append(buf, data...)
		}
		buf = append(buf, '}')
	}
	buf = append(buf, ']')
	resp := admission.Allowed("")
	resp.Patch = buf
	pt := admissionv1.PatchTypeJSONPatch
	resp.PatchType = &pt
	return resp, nil
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 as U+FFFD, as encoding/json
// writes it (without its HTML escaping, which JSON does not need).
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c == '\n':
				buf = append(buf, '\\', 'n')
			case c == '\r':
				buf = append(buf, '\\', 'r')
			case c == '\t':
				buf = append(buf, '\\', 't')
			case c < 0x20:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(buf, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}
