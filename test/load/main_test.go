package main

import (
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A denial must name exactly the policies the scenario expects.
func TestDenialNamesItsPolicies(t *testing.T) {
	sc := scenario{allowed: false, deniedBy: []string{"owner-labels", "pod-security"}}
	both := `admission webhook denied the request: [pod-security/privileged] container "menu" must not set securityContext.privileged=true (field: spec.containers[0].securityContext.privileged). Fix: remove spec.containers[0].securityContext.privileged or set it to false; [owner-labels/missing-label] Pod "menu" has no "owner" label (field: metadata.labels.owner). Fix: add owner: <value> under metadata.labels`
	for _, tc := range []struct {
		name, message string
		allowed, want bool
	}{
		{"both", both, false, true},
		{"one more", both + `; [mutations-applied/cost-tags] m (field: metadata.labels). Fix: h`, false, false},
		{"one missing", `[pod-security/privileged] m (field: spec.containers[0].securityContext.privileged). Fix: h`, false, false},
		{"allowed", both, true, false},
	} {
		r := &admissionv1.AdmissionResponse{Allowed: tc.allowed, Result: &metav1.Status{Message: tc.message}}
		if got := sc.right(r); got != tc.want {
			t.Errorf("%s: right = %v, want %v", tc.name, got, tc.want)
		}
	}
}
