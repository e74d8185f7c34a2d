package admission_test

import (
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/microguard/microguard/pkg/admission"
	"github.com/microguard/microguard/pkg/policy"
)

// fuzzGroup is the API group of a kind, as the API server would send it.
func fuzzGroup(kind string) string {
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		return "apps"
	case "Job", "CronJob":
		return "batch"
	}
	return ""
}

func isPodKind(gk schema.GroupKind) bool {
	for _, k := range admission.PodKinds() {
		if k == gk {
			return true
		}
	}
	return false
}

func FuzzDecode(f *testing.F) {
	for _, tc := range podKindCases() {
		f.Add(tc.gvk.Kind, mustJSON(f, tc.obj))
	}
	for _, seed := range admission.FuzzDecodeSeeds {
		f.Add(seed.Kind, []byte(seed.Raw))
	}
	f.Fuzz(func(t *testing.T, kind string, raw []byte) {
		req := &admissionv1.AdmissionRequest{
			UID:       "fuzz",
			Kind:      metav1.GroupVersionKind{Group: fuzzGroup(kind), Version: "v1", Kind: kind},
			Operation: admissionv1.Create,
			Namespace: "fuzz",
			Object:    runtime.RawExtension{Raw: raw},
		}
		in, err := admission.Decode(req)
		if err != nil {
			if !admission.IsBadInput(err) {
				t.Fatalf("Decode error %v is not bad input", err)
			}
			if in != nil {
				t.Fatalf("Decode returned input with error %v", err)
			}
			return
		}
		if in == nil || in.Object == nil {
			t.Fatalf("Decode = %+v, nil error but no object", in)
		}
		gk := schema.GroupKind{Group: req.Kind.Group, Kind: kind}
		if in.GroupKind != gk {
			t.Fatalf("GroupKind = %v, want %v", in.GroupKind, gk)
		}
		if isPodKind(gk) {
			if in.Typed == nil {
				t.Fatalf("no typed object for pod kind %v", gk)
			}
			if len(in.Pods) > 1 {
				t.Fatalf("%d pods for %v, want at most one", len(in.Pods), gk)
			}
		} else if in.Typed != nil || len(in.Pods) != 0 {
			t.Fatalf("non-pod kind %v decoded to %T with %d pods", gk, in.Typed, len(in.Pods))
		}
		for _, p := range in.Pods {
			if p.Metadata == nil || p.Spec == nil {
				t.Fatalf("pod %+v has nil metadata or spec", p)
			}
		}
		_ = in.Name()
		if len(in.Pods) > 0 {
			if _, err := policy.Input(in.Document()); err != nil {
				t.Fatalf("policy.Input: %v", err)
			}
		}
	})
}
