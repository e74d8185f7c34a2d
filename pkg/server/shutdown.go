package server

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// shutdown orders what a SIGTERM does: readiness fails at once, the
// webhook keeps serving for the drain delay (callers still routed here
// while endpoints are updated get answers), then the manager stops its
// runnables, the webhook server last but the health server: it stops
// accepting and waits, bounded by the shutdown timeout, for the reviews in
// flight. The caller closes the decision log once Run returns.
type shutdown struct {
	delay time.Duration
	log   logr.Logger
	began atomic.Bool
}

// errShuttingDown is the readiness check's answer once SIGTERM came.
var errShuttingDown = errors.New("shutting down: no new reviews should be sent here")

// ready fails once shutdown began, so that endpoints drop this replica.
func (s *shutdown) ready(*http.Request) error {
	if s.began.Load() {
		return errShuttingDown
	}
	return nil
}

// run starts the manager on a context of its own, cancelled only after ctx
// is done and the drain delay has passed.
func (s *shutdown) run(ctx context.Context, start func(context.Context) error) error {
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() {
		select {
		case <-mctx.Done():
			return // the manager stopped by itself
		case <-ctx.Done():
		}
		s.began.Store(true)
		s.log.Info("shutting down: readiness fails from now on", "drainDelay", s.delay.String())
		if s.delay > 0 {
			t := time.NewTimer(s.delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-mctx.Done():
				return
			}
		}
		s.log.Info("shutting down: the webhook server stops accepting; reviews in flight finish")
		cancel()
	}()
	return start(mctx)
}

// drainingServer is controller-runtime's webhook server with two changes
// for a graceful stop. Its request contexts derive from the context the
// server is started with, so stopping the server would cancel every review
// in flight (a registry call cut short, answered with an error): the
// handlers here see a cancellation only when the caller goes away, not
// when the server stops. And once shutdown began, every answer says
// "Connection: close", so that callers open a new connection, which the
// load balancer gives to a ready replica, instead of reusing one to this
// replica that is about to be closed.
type drainingServer struct {
	webhook.Server
	sd   *shutdown
	base atomic.Pointer[context.Context] // the context Start was given
}

func (d *drainingServer) Start(ctx context.Context) error {
	d.base.Store(&ctx)
	return d.Server.Start(ctx)
}

func (d *drainingServer) Register(path string, h http.Handler) {
	d.Server.Register(path, d.finishOnStop(h))
}

func (d *drainingServer) finishOnStop(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.sd.began.Load() {
			w.Header().Set("Connection", "close")
		}
		ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
		defer cancel()
		stop := context.AfterFunc(r.Context(), func() {
			// A stopping server cancels its base context first, then the
			// requests derived from it: by then base.Err() is set.
			if b := d.base.Load(); b == nil || (*b).Err() == nil {
				cancel() // the caller went away
			}
		})
		defer stop()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
