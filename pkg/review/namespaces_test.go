package review_test

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// TestUnknownNamespaceFailsClosed: a namespace whose labels cannot be known
// is not decided on the object alone, since its labels can require more
// (owner-labels requiredByEnv): /validate refuses, naming the namespace and
// why, and /mutate guesses no mutation. Unknown means not in the cache and
// either not returned by the live lookup (the fake's "ghost": ok=false) or
// the lookup failed (its "broken": the API server unreachable). An exempt
// namespace stays exempt (decided by name, before any lookup).
func TestUnknownNamespaceFailsClosed(t *testing.T) {
	rv := reviewer(t, "policies:\n  owner-labels:\n    requiredByEnv: {prod: [cost-center]}\nexemptions:\n  namespaces: [ghost-exempt]\n")
	ctx := context.Background()
	owner := map[string]string{"owner": "ana"}

	// The same compliant pod is admitted in a known namespace...
	if res := rv.Validate(ctx, request(t, admissionv1.Create, "shop", podObject(owner), podKind)); res.Err != nil || !res.Allowed {
		t.Fatalf("compliant pod in a known namespace: %+v", res)
	}
	// ...and refused in one whose labels cannot be known, with the reason.
	for ns, want := range map[string]string{
		"ghost":  `microguard does not know namespace "ghost" (not in its cache, and the API server did not return it): refused, as its labels decide policies; retry once the namespace exists`,
		"broken": `microguard does not know namespace "broken" (not in its cache, and reading it from the API server failed: cache unavailable): refused, as its labels decide policies; retry once the API server answers`,
	} {
		t.Run(ns, func(t *testing.T) {
			res := rv.Validate(ctx, request(t, admissionv1.Create, ns, podObject(owner), podKind))
			if res.Allowed || res.Err == nil || !strings.Contains(res.Err.Error(), want) {
				t.Fatalf("validate: allowed %v err %v; want a refusal with %q", res.Allowed, res.Err, want)
			}
			if res.BadInput {
				t.Error("an unknown namespace is not the request's fault (BadInput); want a retryable refusal")
			}
			dep := rv.Validate(ctx, request(t, admissionv1.Create, ns, deploymentObject(owner, owner), deploymentKind))
			if dep.Allowed || dep.Err == nil || !strings.Contains(dep.Err.Error(), want) {
				t.Fatalf("validate deployment: allowed %v err %v; want a refusal with %q", dep.Allowed, dep.Err, want)
			}
			mut := rv.Mutate(ctx, request(t, admissionv1.Create, ns, podObject(nil), podKind))
			if len(mut.Patch) != 0 || mut.Err == nil || !strings.Contains(mut.Err.Error(), want) {
				t.Fatalf("mutate: patch %v err %v; want no patch and %q", mut.Patch, mut.Err, want)
			}
		})
	}

	if res := rv.Validate(ctx, request(t, admissionv1.Create, "ghost-exempt", podObject(nil), podKind)); !res.Allowed || res.Exempt != "namespace ghost-exempt" {
		t.Fatalf("exempt namespace: %+v", res)
	}
}
