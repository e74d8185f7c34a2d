package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/pkg/policy"
	"github.com/microguard/microguard/pkg/review"
	"github.com/microguard/microguard/policies"
)

// After Reload, the next request is decided by the new reviewer (here: a
// config with owner-labels off), and a failing build keeps the old one.
func TestReloadSwapsTheReviewer(t *testing.T) {
	rvs := newReviewers(reviewer(t))
	s := &Server{rv: rvs, ns: &namespaceCache{}, sc: &storageClassCache{}}
	validate := webhookHandler(validator{rv: rvs, log: logr.Discard()})
	body := admissionReview(t, "reload-1", admissionv1.Create, "shop", pod("menu", nil)) // no owner label
	allowed := func() bool {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, ValidatePath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		validate.ServeHTTP(w, req)
		var ar admissionv1.AdmissionReview
		if err := json.Unmarshal(w.Body.Bytes(), &ar); err != nil || ar.Response == nil {
			t.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
		return ar.Response.Allowed
	}
	if allowed() {
		t.Fatal("a pod without an owner label was admitted under the default config")
	}
	if err := s.Reload(func(review.Namespaces) (*review.Reviewer, error) { return nil, context.Canceled }); err == nil {
		t.Fatal("a failing build was not reported")
	}
	if allowed() {
		t.Fatal("a failing reload changed the decision")
	}
	setup, err := review.Prepare(context.Background(), policies.FS, "")
	if err != nil {
		t.Fatal(err)
	}
	setup.Config.Policies[review.MutationsApplied] = config.Policy{Action: config.Off}
	setup.Config.Policies["owner-labels"] = config.Policy{Action: config.Off}
	if setup.Engine, err = policy.NewEngine(context.Background(), setup.Bundle, setup.Config); err != nil {
		t.Fatal(err)
	}
	// The reviews carry no namespace the test could serve labels for.
	if err := s.Reload(func(review.Namespaces) (*review.Reviewer, error) { return setup.Reviewer(nil, logr.Discard()), nil }); err != nil {
		t.Fatal(err)
	}
	if !allowed() {
		t.Fatal("after reloading a config with owner-labels off, the pod is still refused")
	}
}

func TestRecorderSetBundle(t *testing.T) {
	rc := &Recorder{Bundle: decisionlog.Bundle{Revision: "r1", Config: "c1"}}
	if b := rc.bundle(); b.Config != "c1" {
		t.Fatalf("bundle %+v before a reload", b)
	}
	rc.SetBundle(decisionlog.Bundle{Revision: "r1", Config: "c2"})
	if b := rc.bundle(); b.Config != "c2" {
		t.Fatalf("bundle %+v after SetBundle", b)
	}
}
