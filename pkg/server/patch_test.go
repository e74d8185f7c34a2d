package server

import (
	"encoding/json"
	"reflect"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
)

// patched writes the patch controller-runtime would (the same ops after
// decoding), and valid JSON where jsonpatch's %q quoting would not be.
func TestPatchedIsTheSamePatch(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	for name, ops := range map[string][]jsonpatch.Operation{
		"mutation": {
			{Operation: "add", Path: "/metadata/labels/team", Value: raw(`"food"`)},
			{Operation: "add", Path: "/metadata/annotations/microguard.io~1mutations", Value: raw(`"cost-tags"`)},
			{Operation: "add", Path: "/spec/containers/0/env", Value: raw(`[{"name":"OTEL_SERVICE_NAME","value":"<menu> & co"}]`)},
			{Operation: "replace", Path: "/spec/containers/0/image", Value: raw(`"r/app:1@sha256:00"`)},
		},
		"remove and null": {
			{Operation: "remove", Path: "/spec/x"},
			{Operation: "add", Path: "/spec/y"},
			{Operation: "replace", Path: "/spec/z", Value: nil},
		},
		"go values": {{Operation: "add", Path: "/a", Value: map[string]any{"b": []any{1, "c", true, nil}}}},
		"odd paths": {
			{Operation: "add", Path: "/metadata/labels/a\"b\\c", Value: raw(`1`)},
			{Operation: "add", Path: "/metadata/labels/\x01\x7f\u2028é\xff", Value: raw(`2`)},
		},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := patched(ops)
			if err != nil {
				t.Fatal(err)
			}
			if !resp.Allowed || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch || len(resp.Patches) != 0 {
				t.Fatalf("response %+v", resp.AdmissionResponse)
			}
			var got []map[string]any
			if err := json.Unmarshal(resp.Patch, &got); err != nil {
				t.Fatalf("patch %s is not JSON: %v", resp.Patch, err)
			}
			// What controller-runtime writes, decoded; paths as Go has them.
			cr, err := json.Marshal(ops)
			if err != nil {
				t.Fatal(err)
			}
			var want []map[string]any
			if err := json.Unmarshal(cr, &want); err != nil {
				if name != "odd paths" {
					t.Fatalf("controller-runtime's patch %s: %v", cr, err)
				}
				want = nil
				for _, op := range ops {
					var v any
					if op.Value != nil {
						data, _ := json.Marshal(op.Value)
						_ = json.Unmarshal(data, &v)
					}
					want = append(want, map[string]any{"op": op.Operation, "path": op.Path, "value": v})
				}
			}
			for i := range want {
				// Invalid UTF-8 decodes as U+FFFD either way.
				want[i]["path"] = string([]rune(want[i]["path"].(string)))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("patch %s\ndecodes to %v\nwant       %v", resp.Patch, got, want)
			}
		})
	}
	if _, err := patched([]jsonpatch.Operation{{Operation: "add", Path: "/a", Value: json.RawMessage(`{nope`)}}); err == nil {
		t.Error("a value that is not JSON was written")
	}
}
