package main

import (
	"context"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/pkg/exception"
	"github.com/microguard/microguard/pkg/reload"
	"github.com/microguard/microguard/pkg/review"
	"github.com/microguard/microguard/pkg/server"
)

// serving is what `serve` decides with now: the setup it started with,
// then each one a reload applied.
type serving struct {
	p atomic.Pointer[review.Setup]
}

func (s *serving) exceptions() exception.Set { return s.p.Load().Config.Exceptions }

// watchConfig returns the watcher that reloads the config file at path and
// its custom policy directory into *srv (set once the server is built: the
// watcher takes its first digest before the first Prepare, so that nothing
// written in between is missed): each changed version is prepared
// as at start (schema, compile, the custom policies' tests) and swapped in;
// one that fails keeps the running one.
func watchConfig(path string, interval time.Duration, cur *serving, srv **server.Server, o *server.Options, prepare func(context.Context) (*review.Setup, error), log logr.Logger, m *reload.Metrics) *reload.Watcher {
	return &reload.Watcher{
		Interval: interval,
		Log:      log,
		Metrics:  m,
		Paths: func() []string {
			paths := []string{path}
			if dir, err := config.CustomPoliciesDir(path); err == nil && dir != "" {
				paths = append(paths, dir)
			}
			return paths
		},
		Apply: func(ctx context.Context) error {
			next, err := prepare(ctx)
			if err != nil {
				return err
			}
			prev := cur.p.Load()
			if !reflect.DeepEqual(next.Config.DecisionLog, prev.Config.DecisionLog) {
				log.Info("decisionLog settings changed: they take effect at the next restart")
			}
			for _, w := range next.Config.Warnings {
				log.Info("config warning", "warning", w)
			}
			o.Metrics.Instrument(next.Engine, log)
			if err := (*srv).Reload(func(ns review.Namespaces) (*review.Reviewer, error) {
				return next.Reviewer(ns, log.WithName("review")), nil
			}); err != nil {
				return err
			}
			cur.p.Store(next)
			o.Metrics.SetBuildInfo(version, next.Bundle.Revision(), next.Config.Digest)
			o.Recorder.SetBundle(decisionlog.Bundle{Revision: next.Bundle.Revision(), Config: next.Config.Digest})
			log.Info("serving the new configuration", "bundle", next.Bundle.Revision(), "config", next.Config.Digest, "evaluator", next.Engine.Evaluator())
			return nil
		},
	}
}
