package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Closed-loop benchmarks of the webhook handlers as the helpers build them
// (no decision log, no metrics): one AdmissionReview body for a compliant
// Pod, served through httptest, its reply checked once before the loop.
// The request, the recorder and the reply (AdmissionReview decode, review,
// encode) are all inside the loop; the TLS server is not.
//
//	go test -run '^$' -bench 'Handle' -benchmem ./pkg/server/

func benchmarkHandle(b *testing.B, h http.Handler, path string, p *corev1.Pod, check func(*admissionv1.AdmissionResponse) bool) {
	body := admissionReview(b, "bench-1", admissionv1.Create, "shop", p)
	serve := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	w := serve()
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &ar); w.Code != http.StatusOK || err != nil || ar.Response == nil || !check(ar.Response) {
		b.Fatalf("HTTP %d: %s (%v)", w.Code, w.Body, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if w := serve(); w.Code != http.StatusOK {
			b.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
	}
}

func BenchmarkHandleValidate(b *testing.B) {
	validate, _ := handlers(b)
	benchmarkHandle(b, validate, ValidatePath, pod("menu", map[string]string{"owner": "ana"}), func(r *admissionv1.AdmissionResponse) bool { return r.Allowed })
}

// BenchmarkHandleValidateDenied is the /validate handler denying a Pod
// with no owner label and a privileged container (allowPrivilegeEscalation
// true, as the API server requires): the answer names the three
// violations, owner-labels' and pod-security's two.
func BenchmarkHandleValidateDenied(b *testing.B) {
	validate, _ := handlers(b)
	p := pod("menu", nil)
	p.Spec.Containers[0].SecurityContext.Privileged = ptr.To(true)
	p.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
	benchmarkHandle(b, validate, ValidatePath, p, func(r *admissionv1.AdmissionResponse) bool {
		return !r.Allowed && r.Result != nil && strings.Contains(r.Result.Message, "[owner-labels/missing-label]") &&
			strings.Contains(r.Result.Message, "[pod-security/privileged]") && strings.Contains(r.Result.Message, "[pod-security/allowPrivilegeEscalation]") &&
			strings.Count(r.Result.Message, "Fix:") == 3
	})
}

func BenchmarkHandleMutate(b *testing.B) {
	_, mutate := handlers(b)
	benchmarkHandle(b, mutate, MutatePath, pod("menu", map[string]string{"owner": "ana"}), func(r *admissionv1.AdmissionResponse) bool { return r.Allowed && len(r.Patch) > 0 })
}
