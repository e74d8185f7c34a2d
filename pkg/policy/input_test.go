package policy

import (
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// Input is ast.InterfaceToValue, only cheaper: the same value for every
// document, whether or not the pods' maps are shared with object.
func TestInputIsInterfaceToValue(t *testing.T) {
	podJSON := `{"metadata": {"name": "p", "labels": {"owner": "ana"}}, "spec": {"containers": [{"name": "app", "image": "a:1", "ports": [{"containerPort": 8080}], "resources": {"limits": {"cpu": 0.5}}}], "hostNetwork": false, "nodeSelector": null, "x": []}}`
	var pod map[string]any
	if err := utiljson.Unmarshal([]byte(podJSON), &pod); err != nil {
		t.Fatal(err)
	}
	copied := func(m any) map[string]any {
		data, _ := json.Marshal(m)
		var out map[string]any
		if err := utiljson.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for name, doc := range map[string]map[string]any{
		"shared":  {"operation": "CREATE", "object": pod, "pods": []any{map[string]any{"metadataPath": "metadata", "specPath": "spec", "metadata": pod["metadata"], "spec": pod["spec"]}}},
		"copied":  {"operation": "CREATE", "object": pod, "pods": []any{map[string]any{"metadataPath": "metadata", "specPath": "spec", "metadata": copied(pod["metadata"]), "spec": copied(pod["spec"])}}},
		"empty":   {"object": map[string]any{}, "pods": []any{map[string]any{"metadata": map[string]any{}, "spec": map[string]any{}}}, "namespaceLabels": map[string]string{"a": "b"}},
		"no pods": {"object": pod, "pods": []any{}, "groups": []string{"a"}, "n": int64(3), "f": 1.5, "b": true, "z": nil},
	} {
		want, err := ast.InterfaceToValue(doc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Input(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Compare(want) != 0 {
			t.Errorf("%s: Input\n%v\nInterfaceToValue\n%v", name, got, want)
		}
	}
}

func TestInputRefusesWhatJSONCannotHold(t *testing.T) {
	if _, err := Input(map[string]any{"object": map[string]any{"f": func() {}}}); err == nil {
		t.Error("a func in the document converted without error")
	}
}
