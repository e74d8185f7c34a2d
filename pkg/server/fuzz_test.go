package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	admissionv1beta1 "k8s.io/api/admission/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/microguard/microguard/pkg/admission"
)

// The fuzz oracle decodes a review the way controller-runtime's webhook
// does (its universal deserializer, v1 and v1beta1 registered), so that it
// sees the request the handler saw.
var (
	oracleScheme  = runtime.NewScheme()
	oracleDecoder runtime.Decoder
)

func init() {
	utilruntime.Must(admissionv1.AddToScheme(oracleScheme))
	utilruntime.Must(admissionv1beta1.AddToScheme(oracleScheme))
	oracleDecoder = serializer.NewCodecFactory(oracleScheme).UniversalDeserializer()
}

type unversionedReview struct{ admissionv1.AdmissionReview }

// decodedRequest is the request the webhook decoded from body.
func decodedRequest(body []byte) (*admissionv1.AdmissionRequest, error) {
	req := &admissionv1.AdmissionRequest{}
	ar := unversionedReview{}
	ar.Request = req
	ar.SetGroupVersionKind(admissionv1.SchemeGroupVersion.WithKind("AdmissionReview"))
	if _, _, err := oracleDecoder.Decode(body, nil, &ar); err != nil {
		return nil, err
	}
	return req, nil
}

// templatePath is where each pod kind keeps its pod template, written out
// here rather than taken from the decoder, so that the oracle stays
// independent of the code under test.
var templatePath = map[schema.GroupKind][]string{
	{Group: "", Kind: "Pod"}:                   nil,
	{Group: "", Kind: "ReplicationController"}: {"spec", "template"},
	{Group: "apps", Kind: "Deployment"}:        {"spec", "template"},
	{Group: "apps", Kind: "StatefulSet"}:       {"spec", "template"},
	{Group: "apps", Kind: "DaemonSet"}:         {"spec", "template"},
	{Group: "apps", Kind: "ReplicaSet"}:        {"spec", "template"},
	{Group: "batch", Kind: "Job"}:              {"spec", "template"},
	{Group: "batch", Kind: "CronJob"}:          {"spec", "jobTemplate", "spec", "template"},
}

// hasOwner reports whether the object at path (a metadata holder) carries a
// non-empty owner label. Keys are matched exactly, as the policy does.
func hasOwner(obj map[string]any, path ...string) bool {
	cur := obj
	for _, k := range append(path, "metadata", "labels") {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return false
		}
		cur = next
	}
	s, _ := cur["owner"].(string)
	return s != ""
}

// absent reports whether the object has nothing (or null) at path.
func absent(obj map[string]any, path []string) bool {
	var cur any = obj
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[k]; !ok || cur == nil {
			return true
		}
	}
	return false
}

// admitJustified says why an admitted request may be admitted, or "" when
// no reason holds.
func admitJustified(req *admissionv1.AdmissionRequest) string {
	switch {
	case req.Operation == admissionv1.Delete || req.Operation == admissionv1.Connect:
		return "operation " + string(req.Operation)
	case req.Namespace == "kube-system" || req.Namespace == "kube-node-lease":
		return "exempt namespace"
	case req.SubResource != "":
		return "subresource" // labels cannot change through a subresource
	}
	gk := schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}
	tpl, podKind := templatePath[gk]
	if !podKind {
		return "not a pod kind" // no policy for other kinds yet
	}
	var obj map[string]any
	if json.Unmarshal(req.Object.Raw, &obj) != nil || obj == nil {
		return ""
	}
	if !hasOwner(obj) {
		return ""
	}
	if tpl != nil && !hasOwner(obj, tpl...) {
		return ""
	}
	return "owner labels"
}

func fuzzSeeds(f *testing.F) {
	owned := map[string]string{"owner": "shop-team"}
	for _, seed := range [][]byte{
		admissionReview(f, "f-1", admissionv1.Create, "shop", deployment("web", owned, owned)),
		admissionReview(f, "f-2", admissionv1.Create, "shop", deployment("web", nil, nil)),
		admissionReview(f, "f-3", admissionv1.Create, "shop", pod("p", nil)),
		admissionReview(f, "f-4", admissionv1.Create, "shop", pod("p", owned)),
		admissionReview(f, "f-5", admissionv1.Update, "shop", deployment("web", owned, nil)),
		admissionReview(f, "f-6", admissionv1.Delete, "shop", pod("p", nil)),
		admissionReview(f, "f-7", admissionv1.Create, "kube-system", pod("p", nil)),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"f-8","kind":{"group":"apps","version":"v1","kind":"Deployment"},"operation":"CREATE","namespace":"shop","object":{"metadata":{"name":"d"},"spec":{"template":{"metadata":{"labels":{"owner":"x"}}}}}}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"f-9","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":"pod"}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"f-10","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":{"spec":"x"}}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"f-11","kind":{"group":"batch","version":"v1","kind":"CronJob"},"operation":"CREATE","object":{"spec":{"jobTemplate":42}}}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"f-12","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":{"metadata":{"labels":{"owner":""}}}}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"f-13","kind":{"group":"","version":"v1","kind":"PersistentVolumeClaim"},"operation":"CREATE","object":{}}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`),
		[]byte(`{}`),
		[]byte(`[]`),
		[]byte(`null`),
		[]byte(``),
		[]byte(`not json`),
	} {
		f.Add(seed)
	}
}

func FuzzValidateReview(f *testing.F) {
	fuzzSeeds(f)
	validate, _ := handlers(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, ValidatePath, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		validate.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("HTTP %d: %.300s", w.Code, w.Body.Bytes())
		}
		var ar admissionv1.AdmissionReview
		if err := json.Unmarshal(w.Body.Bytes(), &ar); err != nil {
			t.Fatalf("reply %.300q is not an AdmissionReview: %v", w.Body.Bytes(), err)
		}
		resp := ar.Response
		if resp == nil {
			t.Fatalf("reply %.300q has no response", w.Body.Bytes())
		}
		if resp.Result != nil && resp.Result.Code >= 500 {
			t.Fatalf("server fault on input: %+v", resp.Result)
		}
		if !resp.Allowed {
			return
		}
		req, err := decodedRequest(body)
		if err != nil {
			t.Fatalf("admitted a review that does not decode (%v): %q", err, body)
		}
		if resp.UID != req.UID {
			t.Fatalf("response uid %q, request uid %q", resp.UID, req.UID)
		}
		if admitJustified(req) == "" {
			t.Fatalf("admitted %s %s/%s in %q (subresource %q) without an owner label: %s; response %+v",
				req.Operation, req.Kind.Group, req.Kind.Kind, req.Namespace, req.SubResource, req.Object.Raw, resp)
		}
	})
}

// TestFuzzOracle keeps the oracle of FuzzValidateReview honest: it knows
// every pod kind, and it refuses to justify what the policy denies.
func TestFuzzOracle(t *testing.T) {
	var kinds []schema.GroupKind
	for gk := range templatePath {
		kinds = append(kinds, gk)
	}
	less := func(a, b schema.GroupKind) int { return strings.Compare(a.String(), b.String()) }
	want := admission.PodKinds()
	slices.SortFunc(kinds, less)
	slices.SortFunc(want, less)
	if !slices.Equal(kinds, want) {
		t.Errorf("oracle kinds = %v, pod kinds = %v", kinds, want)
	}

	owned := map[string]string{"owner": "shop-team"}
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"owned Deployment", admissionReview(t, "o", admissionv1.Create, "shop", deployment("web", owned, owned)), "owner labels"},
		{"Deployment without labels", admissionReview(t, "o", admissionv1.Create, "shop", deployment("web", nil, nil)), ""},
		{"Deployment with an unowned template", admissionReview(t, "o", admissionv1.Create, "shop", deployment("web", owned, nil)), ""},
		{"owned Pod", admissionReview(t, "o", admissionv1.Create, "shop", pod("p", owned)), "owner labels"},
		{"Pod with an empty owner", admissionReview(t, "o", admissionv1.Create, "shop", pod("p", map[string]string{"owner": ""})), ""},
		{"DELETE", admissionReview(t, "o", admissionv1.Delete, "shop", pod("p", nil)), "operation DELETE"},
		{"kube-system", admissionReview(t, "o", admissionv1.Create, "kube-system", pod("p", nil)), "exempt namespace"},
		{"mis-cased metadata", []byte(`{"request":{"kind":{"kind":"Pod"},"operation":"CREATE","object":{"Metadata":{"labels":{"owner":"x"}}}}}`), ""},
		{"PersistentVolumeClaim", []byte(`{"request":{"kind":{"kind":"PersistentVolumeClaim"},"operation":"CREATE","object":{}}}`), "not a pod kind"},
		{"Deployment without template", []byte(`{"request":{"kind":{"group":"apps","kind":"Deployment"},"operation":"CREATE","object":{"spec":{}}}}`), ""},
	} {
		req, err := decodedRequest(tc.body)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := admitJustified(req); got != tc.want {
			t.Errorf("%s: admitJustified = %q, want %q", tc.name, got, tc.want)
		}
	}
}
