package server

import (
	"sync/atomic"

	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/pkg/review"
)

// reviewers holds the reviewer that decides requests. Reload swaps in a
// new one: each request is decided by the one it started with.
type reviewers struct {
	p atomic.Pointer[review.Reviewer]
}

func newReviewers(rv *review.Reviewer) *reviewers {
	r := &reviewers{}
	r.p.Store(rv)
	return r
}

func (r *reviewers) Load() *review.Reviewer { return r.p.Load() }

// Reload builds a reviewer with the server's namespace and storage class
// caches and decides every request from the next one on with it (a new
// configuration or policy bundle). On error the running reviewer stays.
func (s *Server) Reload(newReviewer func(review.Namespaces) (*review.Reviewer, error)) error {
	rv, err := newReviewer(s.ns)
	if err != nil {
		return err
	}
	rv.WithStorageClasses(s.sc)
	s.rv.p.Store(rv)
	return nil
}

// SetBundle makes the records name the policy bundle and configuration that
// decide from now on (after a reload).
func (rc *Recorder) SetBundle(b decisionlog.Bundle) {
	if rc != nil {
		rc.current.Store(&b)
	}
}

func (rc *Recorder) bundle() decisionlog.Bundle {
	if b := rc.current.Load(); b != nil {
		return *b
	}
	return rc.Bundle
}
