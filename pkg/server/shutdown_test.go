package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// TestShutdownOrder: readiness fails as soon as ctx is done, the manager's
// context only once the drain delay has passed, and run returns what the
// manager returns.
func TestShutdownOrder(t *testing.T) {
	sd := &shutdown{delay: 300 * time.Millisecond, log: logr.Discard()}
	if err := sd.ready(nil); err != nil {
		t.Fatalf("ready before SIGTERM: %v", err)
	}
	ctx, sigterm := context.WithCancel(context.Background())
	stopped := make(chan time.Time, 1)
	errDone := errors.New("manager stopped")
	ran := make(chan error, 1)
	go func() {
		ran <- sd.run(ctx, func(mctx context.Context) error {
			<-mctx.Done()
			stopped <- time.Now()
			return errDone
		})
	}()
	time.Sleep(50 * time.Millisecond)
	sent := time.Now()
	sigterm()
	for sd.ready(nil) == nil {
		if time.Since(sent) > time.Second {
			t.Fatal("readiness does not fail after SIGTERM")
		}
		time.Sleep(time.Millisecond)
	}
	if waited := time.Since(sent); waited > 100*time.Millisecond {
		t.Errorf("readiness failed %s after SIGTERM, want at once", waited)
	}
	if at := <-stopped; at.Sub(sent) < sd.delay {
		t.Errorf("the manager was stopped %s after SIGTERM, before the drain delay (%s)", at.Sub(sent), sd.delay)
	}
	if err := <-ran; err != errDone {
		t.Errorf("run returned %v, want the manager's %v", err, errDone)
	}
}

// TestReviewsInFlightOutliveTheServerStop: a handler behind finishOnStop
// keeps its context when the server's base context is cancelled (the
// server stops) and loses it when the caller goes away; once shutdown
// began, answers close their connection.
func TestReviewsInFlightOutliveTheServerStop(t *testing.T) {
	d := &drainingServer{sd: &shutdown{log: logr.Discard()}}
	base, stopServer := context.WithCancel(context.Background())
	d.base.Store(&base)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	ctxErr := make(chan error, 1)
	// A review that runs until released or cancelled.
	h := d.finishOnStop(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		ctxErr <- r.Context().Err()
	}))
	srv := httptest.NewUnstartedServer(h)
	srv.Config.BaseContext = func(net.Listener) context.Context { return base }
	srv.Start()
	defer srv.Close()

	// Shutdown began, and the server stops while a review runs: the review
	// goes on, and its answer closes the connection.
	d.sd.began.Store(true)
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Error(err)
		}
		answered <- resp
	}()
	<-entered
	stopServer()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := <-ctxErr; err != nil {
		t.Errorf("the review's context ended when the server stopped: %v", err)
	}
	if resp := <-answered; resp != nil {
		resp.Body.Close()
		if !resp.Close {
			t.Error("an answer during shutdown keeps its connection open, want Connection: close")
		}
	}

	// The caller goes away (on a server that is not stopping): the review
	// is cancelled.
	base2 := context.Background()
	d.base.Store(&base2)
	srv2 := httptest.NewUnstartedServer(h)
	srv2.Config.BaseContext = func(net.Listener) context.Context { return base2 }
	srv2.Start()
	defer srv2.Close()
	release = make(chan struct{}) // closed only when the test ends
	defer close(release)
	ctx, hangUp := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv2.URL, nil)
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	hangUp()
	select {
	case err := <-ctxErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the review's context after the caller left: %v, want canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the review went on after its caller left")
	}
}
