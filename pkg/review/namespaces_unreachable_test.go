package review_test

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// TestNamespaceLookupFailureIsRefusedClearly: when the namespace's labels
// cannot be read (the fake's "broken" namespace: not cached, and the API
// server unreachable), both webhooks refuse with the same "does not know
// namespace" message as for a namespace that does not exist, plus the cause.
func TestNamespaceLookupFailureIsRefusedClearly(t *testing.T) {
	rv := reviewer(t, "")
	ctx := context.Background()
	owner := map[string]string{"owner": "ana"}
	const want = `microguard does not know namespace "broken" (not in its cache, and reading it from the API server failed: cache unavailable): refused, as its labels decide policies`
	res := rv.Validate(ctx, request(t, admissionv1.Create, "broken", podObject(owner), podKind))
	if res.Allowed || res.Err == nil || !strings.Contains(res.Err.Error(), want) {
		t.Fatalf("validate: allowed %v err %v; want a refusal with %q", res.Allowed, res.Err, want)
	}
	mut := rv.Mutate(ctx, request(t, admissionv1.Create, "broken", podObject(nil), podKind))
	if len(mut.Patch) != 0 || mut.Err == nil || !strings.Contains(mut.Err.Error(), want) {
		t.Fatalf("mutate: patch %v err %v; want no patch and %q", mut.Patch, mut.Err, want)
	}
}
