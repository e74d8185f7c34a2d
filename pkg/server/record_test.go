package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/microguard/microguard/pkg/decisionlog"
)

func recordingHandlers(t testing.TB, rec *Recorder) (validate, mutate http.Handler) {
	t.Helper()
	rv := reviewer(t)
	validate = webhookHandler(validator{rv: newReviewers(rv), log: logr.Discard(), rec: rec})
	mutate = webhookHandler(mutator{rv: newReviewers(rv), log: logr.Discard(), rec: rec})
	return validate, mutate
}

func answer(t *testing.T, h http.Handler, path string, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", w.Code, w.Body)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &ar); err != nil || ar.Response == nil {
		t.Fatalf("no review in %s: %v", w.Body, err)
	}
	return ar.Response
}

func TestAnswersAreRecordedWithRedactedPatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l, err := decisionlog.Open(context.Background(), path, decisionlog.Options{Replica: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rec := &Recorder{Log: l, OnFailure: "deny", Bundle: decisionlog.Bundle{Revision: "rev-1", Config: "sha256:c"},
		Redaction: decisionlog.Redaction{EnvNames: []*regexp.Regexp{regexp.MustCompile("OTEL_EXPORTER")}}}
	validate, mutate := recordingHandlers(t, rec)
	if r := answer(t, validate, ValidatePath, admissionReview(t, "u-denied", admissionv1.Create, "shop", deployment("web", nil, nil))); r.Allowed {
		t.Fatal("deployment without owner admitted")
	}
	if r := answer(t, mutate, MutatePath, admissionReview(t, "u-mutated", admissionv1.Create, "shop", pod("web", map[string]string{"owner": "ana"}))); !r.Allowed || len(r.Patch) == 0 {
		t.Fatalf("pod not mutated: %+v", r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := decisionlog.OpenStore(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string]decisionlog.Record{}
	if err := s.Records(context.Background(), decisionlog.Filter{}, func(raw []byte) error {
		var r decisionlog.Record
		err := json.Unmarshal(raw, &r)
		got[r.UID] = r
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d := got["u-denied"]
	if d.Webhook != "validate" || d.Allowed || len(d.Violations) == 0 || d.User.Username != userInfo.Username || d.Bundle.Revision != "rev-1" || d.Kind.Kind != "Deployment" {
		t.Errorf("denied record: %+v", d)
	}
	m := got["u-mutated"]
	patch, _ := json.Marshal(m.Patch)
	if m.Webhook != "mutate" || !m.Allowed || len(m.Patch) == 0 || !strings.Contains(string(patch), decisionlog.Redacted) || strings.Contains(string(patch), "otel-collector") {
		t.Errorf("mutated record: %+v\npatch %s", m, patch)
	}
}

func TestOnFailure(t *testing.T) {
	for _, tc := range []struct {
		onFailure   string
		wantAllowed bool
		dropped     float64
	}{
		{"deny", false, 0},
		{"allow", true, 1},
	} {
		t.Run(tc.onFailure, func(t *testing.T) {
			l, err := decisionlog.Open(context.Background(), filepath.Join(t.TempDir(), "log"), decisionlog.Options{Replica: "test"})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			l.Store().Close() // the store is gone: every write fails
			m := decisionlog.NewMetrics()
			validate, _ := recordingHandlers(t, &Recorder{Log: l, OnFailure: tc.onFailure, Metrics: m})
			r := answer(t, validate, ValidatePath, admissionReview(t, "u1", admissionv1.Create, "shop", deployment("web", map[string]string{"owner": "ana"}, map[string]string{"owner": "ana"})))
			if r.Allowed != tc.wantAllowed {
				t.Errorf("allowed = %v, want %v (%v)", r.Allowed, tc.wantAllowed, r.Result)
			}
			if !tc.wantAllowed && !strings.Contains(r.Result.Message, "audit log is unavailable") {
				t.Errorf("denial message %q does not say the audit log is unavailable", r.Result.Message)
			}
			if got := testutil.ToFloat64(m.Collectors()[2]); got != tc.dropped { // microguard_decision_log_dropped_total
				t.Errorf("dropped = %v, want %v", got, tc.dropped)
			}
		})
	}
}
