package admission_test

import (
	"reflect"
	"sort"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/microguard/microguard/pkg/admission"
	"github.com/microguard/microguard/pkg/policy"
)

func deploymentJSON(t *testing.T, name string) []byte {
	t.Helper()
	return mustJSON(t, &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta(name),
		Spec:       appsv1.DeploymentSpec{Template: template()},
	})
}

func TestDocument(t *testing.T) {
	yes := true
	req := &admissionv1.AdmissionRequest{
		UID:         "uid-1",
		Kind:        metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
		Resource:    metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
		SubResource: "",
		Operation:   admissionv1.Update,
		Namespace:   "shop",
		Name:        "web",
		DryRun:      &yes,
		UserInfo:    authenticationv1.UserInfo{Username: "alice", Groups: []string{"dev", "system:authenticated"}},
		Object:      runtime.RawExtension{Raw: deploymentJSON(t, "web")},
		OldObject:   runtime.RawExtension{Raw: deploymentJSON(t, "web-old")},
	}
	in, err := admission.Decode(req)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	in.NamespaceLabels = map[string]string{"team": "shop", "kubernetes.io/metadata.name": "shop"}
	doc := in.Document()

	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	wantKeys := []string{"dryRun", "kind", "name", "namespace", "namespaceLabels", "object", "oldObject", "operation", "pods", "resource", "subResource", "userInfo"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("document keys = %v, want %v", keys, wantKeys)
	}
	for k, want := range map[string]any{
		"operation":       "UPDATE",
		"subResource":     "",
		"namespace":       "shop",
		"name":            "web",
		"dryRun":          true,
		"kind":            map[string]any{"group": "apps", "version": "v1", "kind": "Deployment"},
		"resource":        map[string]any{"group": "apps", "version": "v1", "resource": "deployments"},
		"userInfo":        map[string]any{"username": "alice", "groups": []any{"dev", "system:authenticated"}},
		"namespaceLabels": map[string]any{"team": "shop", "kubernetes.io/metadata.name": "shop"},
	} {
		if !reflect.DeepEqual(doc[k], want) {
			t.Errorf("document[%q] = %#v, want %#v", k, doc[k], want)
		}
	}
	if !reflect.DeepEqual(doc["object"], in.Object) {
		t.Errorf("document object = %v, want the decoded object", doc["object"])
	}
	if !reflect.DeepEqual(doc["oldObject"], in.OldObject) {
		t.Errorf("document oldObject = %v, want the decoded old object", doc["oldObject"])
	}
	if md := lookup(doc["oldObject"].(map[string]any), "metadata.name"); md != "web-old" {
		t.Errorf("oldObject name = %v", md)
	}
	pods, ok := doc["pods"].([]any)
	if !ok || len(pods) != 1 {
		t.Fatalf("document pods = %#v", doc["pods"])
	}
	want := map[string]any{
		"metadataPath": "spec.template.metadata",
		"specPath":     "spec.template.spec",
		"metadata":     in.Pods[0].Metadata,
		"spec":         in.Pods[0].Spec,
	}
	if !reflect.DeepEqual(pods[0], want) {
		t.Errorf("document pods[0] = %#v, want %#v", pods[0], want)
	}

	// The document is what the engine reads: it must convert.
	if _, err := policy.Input(doc); err != nil {
		t.Errorf("policy.Input: %v", err)
	}
}

func TestDocumentOptionalParts(t *testing.T) {
	no := false
	for _, tc := range []struct {
		name       string
		dryRun     *bool
		wantDryRun bool
	}{
		{"dryRun unset", nil, false},
		{"dryRun false", &no, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(appsv1.SchemeGroupVersion.WithKind("Deployment"), admissionv1.Create, deploymentJSON(t, "web"))
			req.DryRun = tc.dryRun
			in, err := admission.Decode(req)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			doc := in.Document()
			if doc["dryRun"] != tc.wantDryRun {
				t.Errorf("dryRun = %v, want %v", doc["dryRun"], tc.wantDryRun)
			}
			if _, ok := doc["oldObject"]; ok {
				t.Error("document has an oldObject without an old object")
			}
			// Empty lists and maps, never nil: a policy can iterate them.
			groups := doc["userInfo"].(map[string]any)["groups"]
			if g, ok := groups.([]any); !ok || g == nil || len(g) != 0 {
				t.Errorf("userInfo.groups = %#v, want an empty list", groups)
			}
			if l, ok := doc["namespaceLabels"].(map[string]any); !ok || l == nil || len(l) != 0 {
				t.Errorf("namespaceLabels = %#v, want an empty map", doc["namespaceLabels"])
			}
			if _, err := policy.Input(doc); err != nil {
				t.Errorf("policy.Input: %v", err)
			}
		})
	}
}

func TestName(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reqName string
		object  map[string]any
		want    string
	}{
		{"request name wins", "from-request", map[string]any{"metadata": map[string]any{"name": "from-object", "generateName": "gen-"}}, "from-request"},
		{"metadata.name", "", map[string]any{"metadata": map[string]any{"name": "from-object", "generateName": "gen-"}}, "from-object"},
		{"generateName", "", map[string]any{"metadata": map[string]any{"generateName": "gen-"}}, "gen-"},
		{"empty name falls back to generateName", "", map[string]any{"metadata": map[string]any{"name": "", "generateName": "gen-"}}, "gen-"},
		{"no metadata", "", map[string]any{"spec": map[string]any{}}, ""},
		{"metadata not an object", "", map[string]any{"metadata": "web"}, ""},
		{"name not a string", "", map[string]any{"metadata": map[string]any{"name": int64(3)}}, ""},
		{"nil object", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &admission.Input{Request: &admissionv1.AdmissionRequest{Name: tc.reqName}, Object: tc.object}
			if got := in.Name(); got != tc.want {
				t.Errorf("Name() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDocumentName: the document names the object as Name() does, so that
// messages name generated objects too.
func TestDocumentName(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reqName string
		raw     string
		want    string
	}{
		{"request name", "from-request", `{"metadata":{"name":"from-object"},"spec":{}}`, "from-request"},
		{"metadata.name", "", `{"metadata":{"name":"from-object","generateName":"gen-"},"spec":{}}`, "from-object"},
		{"generateName", "", `{"metadata":{"generateName":"gen-"},"spec":{}}`, "gen-"},
		{"no name", "", `{"spec":{}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(corev1.SchemeGroupVersion.WithKind("Pod"), admissionv1.Create, []byte(tc.raw))
			req.Name = tc.reqName
			in, err := admission.Decode(req)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := in.Document()["name"]; got != tc.want {
				t.Errorf("document name = %v, want %q", got, tc.want)
			}
		})
	}
}

func TestNameAfterDecode(t *testing.T) {
	req := request(appsv1.SchemeGroupVersion.WithKind("Deployment"), admissionv1.Create,
		[]byte(`{"metadata":{"generateName":"web-"},"spec":{"template":{"metadata":{"labels":{"owner":"x"}}}}}`))
	in, err := admission.Decode(req)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got := in.Name(); got != "web-" {
		t.Errorf("Name() = %q, want web-", got)
	}
}

func TestSkip(t *testing.T) {
	for _, tc := range []struct {
		op   admissionv1.Operation
		want bool
	}{
		{admissionv1.Create, false},
		{admissionv1.Update, false},
		{admissionv1.Delete, true},
		{admissionv1.Connect, true},
		{"", false},
		{"delete", false}, // operations are case-sensitive
		{"PATCH", false},
	} {
		if got := admission.Skip(&admissionv1.AdmissionRequest{Operation: tc.op}); got != tc.want {
			t.Errorf("Skip(%q) = %v, want %v", tc.op, got, tc.want)
		}
	}
}
