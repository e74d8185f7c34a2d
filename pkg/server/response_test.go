package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/microguard/microguard/pkg/admission"
	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/policy"
	"github.com/microguard/microguard/pkg/review"
)

func violation(action config.Action, rule, field string) policy.Violation {
	return policy.Violation{
		Policy:  "owner-labels",
		Rule:    rule,
		Action:  action,
		Message: fmt.Sprintf("Deployment %q has no %q label", "web", "owner"),
		Field:   field,
		Hint:    "add owner: <team> under " + strings.TrimSuffix(field, ".owner"),
	}
}

func TestDenialMessage(t *testing.T) {
	vs := []policy.Violation{
		violation(config.Deny, "missing-label", "metadata.labels.owner"),
		violation(config.Deny, "missing-label", "spec.template.metadata.labels.owner"),
	}
	// With several violations a count line comes first, then one line per
	// violation in the order given.
	want := "2 violations:\n" +
		`[owner-labels/missing-label] Deployment "web" has no "owner" label (field: metadata.labels.owner). Fix: add owner: <team> under metadata.labels` + "\n" +
		`[owner-labels/missing-label] Deployment "web" has no "owner" label (field: spec.template.metadata.labels.owner). Fix: add owner: <team> under spec.template.metadata.labels`
	if got := DenialMessage(vs); got != want {
		t.Errorf("DenialMessage =\n%s\nwant\n%s", got, want)
	}
	// One violation is one line, without a count.
	one := `[owner-labels/missing-label] Deployment "web" has no "owner" label (field: metadata.labels.owner). Fix: add owner: <team> under metadata.labels`
	if got := DenialMessage(vs[:1]); got != one {
		t.Errorf("DenialMessage of one violation = %q, want %q", got, one)
	}
	three := append(slices.Clone(vs), violation(config.Deny, "missing-label", "metadata.labels.team"))
	lines := strings.Split(DenialMessage(three), "\n")
	if len(lines) != 4 || lines[0] != "3 violations:" {
		t.Fatalf("DenialMessage of three violations = %q", lines)
	}
	for i, v := range three {
		if lines[i+1] != v.String() {
			t.Errorf("line %d = %q, want %q", i+1, lines[i+1], v.String())
		}
	}
	if got := DenialMessage(nil); got != "" {
		t.Errorf("DenialMessage(nil) = %q, want empty", got)
	}
}

func TestResponse(t *testing.T) {
	deny1 := violation(config.Deny, "missing-label", "metadata.labels.owner")
	deny2 := violation(config.Deny, "missing-label", "spec.template.metadata.labels.owner")
	warn := violation(config.Warn, "missing-label", "metadata.labels.team")
	audit := violation(config.Audit, "missing-label", "metadata.labels.cost-center")

	for _, tc := range []struct {
		name        string
		res         review.Result
		allowed     bool
		code        int32
		reason      metav1.StatusReason
		message     string   // exact Result.Message, when not contains
		contains    []string // parts of Result.Message
		warnings    []string
		audits      []policy.Violation
		wantNoAudit bool
	}{
		{
			name:    "two denials",
			res:     review.Result{Allowed: false, Violations: []policy.Violation{deny1, deny2}},
			allowed: false, code: http.StatusForbidden, reason: metav1.StatusReasonForbidden,
			message: "2 violations:\n" + deny1.String() + "\n" + deny2.String(),
		},
		{
			name:    "denial with a warning and an audit",
			res:     review.Result{Allowed: false, Violations: []policy.Violation{audit, deny1, warn}},
			allowed: false, code: http.StatusForbidden, reason: metav1.StatusReasonForbidden,
			message:  deny1.String(),
			warnings: []string{warn.String()},
			audits:   []policy.Violation{audit},
		},
		{
			name:    "warning only",
			res:     review.Result{Allowed: true, Violations: []policy.Violation{warn}},
			allowed: true, code: http.StatusOK,
			warnings: []string{warn.String()},
		},
		{
			name:    "audit only",
			res:     review.Result{Allowed: true, Violations: []policy.Violation{audit}},
			allowed: true, code: http.StatusOK,
			audits: []policy.Violation{audit},
		},
		{
			name:    "no violations",
			res:     review.Result{Allowed: true},
			allowed: true, code: http.StatusOK, wantNoAudit: true,
		},
		{
			name:    "bad input",
			res:     review.Result{Err: &admission.Error{Err: errors.New("decoding apps/Deployment: invalid character")}, BadInput: true},
			allowed: false, code: http.StatusBadRequest,
			contains: []string{"could not evaluate", "refused", "decoding apps/Deployment: invalid character"},
		},
		{
			name:    "server error",
			res:     review.Result{Err: errors.New("evaluating policies: boom")},
			allowed: false, code: http.StatusInternalServerError,
			contains: []string{"refused", "evaluating policies: boom"},
		},
		{
			// Allowed is ignored once evaluation failed.
			name:    "error wins over allowed",
			res:     review.Result{Allowed: true, Err: errors.New("boom")},
			allowed: false, code: http.StatusInternalServerError,
			contains: []string{"boom"},
		},
		{
			name:    "exempt",
			res:     review.Result{Allowed: true, Exempt: "namespace kube-system"},
			allowed: true, code: http.StatusOK,
			message: "exempt: namespace kube-system",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := Response(tc.res)
			if resp.Allowed != tc.allowed {
				t.Errorf("Allowed = %v, want %v", resp.Allowed, tc.allowed)
			}
			if resp.Result == nil {
				t.Fatal("no Result status")
			}
			if resp.Result.Code != tc.code {
				t.Errorf("Result.Code = %d, want %d", resp.Result.Code, tc.code)
			}
			if resp.Result.Reason != tc.reason {
				t.Errorf("Result.Reason = %q, want %q", resp.Result.Reason, tc.reason)
			}
			if tc.message != "" && resp.Result.Message != tc.message {
				t.Errorf("Result.Message =\n%s\nwant\n%s", resp.Result.Message, tc.message)
			}
			for _, part := range tc.contains {
				if !strings.Contains(resp.Result.Message, part) {
					t.Errorf("Result.Message %q does not contain %q", resp.Result.Message, part)
				}
			}
			if !reflect.DeepEqual([]string(resp.Warnings), tc.warnings) {
				t.Errorf("Warnings = %q, want %q", resp.Warnings, tc.warnings)
			}
			if tc.audits == nil {
				if len(resp.AuditAnnotations) != 0 {
					t.Errorf("AuditAnnotations = %v, want none", resp.AuditAnnotations)
				}
			} else {
				if len(resp.AuditAnnotations) != 1 {
					t.Errorf("AuditAnnotations = %v, want only %q", resp.AuditAnnotations, AuditAnnotation)
				}
				var got []policy.Violation
				if err := json.Unmarshal([]byte(resp.AuditAnnotations["violations"]), &got); err != nil {
					t.Fatalf("audit annotation %q: %v", resp.AuditAnnotations["violations"], err)
				}
				if !reflect.DeepEqual(got, tc.audits) {
					t.Errorf("audit annotation = %+v, want %+v", got, tc.audits)
				}
			}
			if len(resp.Patches) != 0 || resp.PatchType != nil {
				t.Errorf("validation response has a patch: %v", resp.Patches)
			}
		})
	}
}

// TestResponseFromRealReview runs the real engine on a Deployment without
// owner labels and checks the response kubectl shows.
func TestResponseFromRealReview(t *testing.T) {
	rv := reviewer(t)
	body := admissionReview(t, "uid-real", admissionv1.Create, "shop", deployment("web", nil, nil))
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &ar); err != nil {
		t.Fatal(err)
	}
	res := rv.Validate(context.Background(), ar.Request)
	resp := Response(res)
	if resp.Allowed || resp.Result.Code != http.StatusForbidden || resp.Result.Reason != metav1.StatusReasonForbidden {
		t.Fatalf("response = %+v, want a 403 denial", resp.AdmissionResponse)
	}
	want := "2 violations:\n" +
		`[owner-labels/missing-label] Deployment "web" has no "owner" label (field: metadata.labels.owner). Fix: add owner: <team or person that owns this app> under metadata.labels` + "\n" +
		`[owner-labels/missing-label] the pod template of Deployment "web" has no "owner" label (field: spec.template.metadata.labels.owner). Fix: add owner: <team or person that owns this app> under spec.template.metadata.labels`
	if resp.Result.Message != want {
		t.Errorf("message =\n%s\nwant\n%s", resp.Result.Message, want)
	}
}
