package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/rest"
)

// logLines is a logger that keeps its lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, args)
	}, funcr.Options{})
}

func (l *logLines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// TestAPIHealthTransitions: every probe sets the gauges; only a change of
// state is logged, an outage as an error with its cause, the return as info
// with how long it lasted.
func TestAPIHealthTransitions(t *testing.T) {
	h := NewAPIHealth()
	clock := time.Unix(1000, 0)
	h.now = func() time.Time { return clock }
	var logs logLines
	log := logs.logger()
	var st probeState
	down := errors.New("dial tcp 10.0.0.1:443: connect: connection refused")
	steps := []struct {
		err       error
		reachable float64
		contact   float64
		logged    string // "" for no new line
	}{
		{nil, 1, 1000, ""},
		{nil, 1, 1005, ""},
		{down, 0, 1005, `"msg"="API server unreachable: deciding with the namespace and storage class labels last seen; a namespace not seen before is refused" "error"="dial tcp 10.0.0.1:443: connect: connection refused"`},
		{down, 0, 1005, ""},
		{down, 0, 1005, ""},
		{nil, 1, 1025, `"msg"="API server reachable again: namespace and storage class caches resume following it" "unreachableFor"="15s"`},
		{nil, 1, 1030, ""},
	}
	for i, s := range steps {
		before := len(logs.get())
		h.observe(&st, s.err, log)
		if got := testutil.ToFloat64(h.reachable); got != s.reachable {
			t.Errorf("step %d: reachable %v, want %v", i, got, s.reachable)
		}
		if got := testutil.ToFloat64(h.lastContact); got != s.contact {
			t.Errorf("step %d: last contact %v, want %v", i, got, s.contact)
		}
		lines := logs.get()[before:]
		switch {
		case s.logged == "" && len(lines) != 0:
			t.Errorf("step %d: logged %q, want nothing", i, lines)
		case s.logged != "" && (len(lines) != 1 || !strings.Contains(lines[0], s.logged)):
			t.Errorf("step %d: logged %q, want one line with %s", i, lines, s.logged)
		}
		clock = clock.Add(5 * time.Second)
	}
}

// TestAPIHealthFirstProbeFails: an API server away from the start is logged
// at once, and a probe that hangs counts as a failure after Timeout.
func TestAPIHealthFirstProbeFails(t *testing.T) {
	h := NewAPIHealth()
	h.Interval, h.Timeout = 10*time.Millisecond, 20*time.Millisecond
	h.reachable.Set(1) // so that the test sees the prober set 0
	var logs logLines
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.run(ctx, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, logs.logger())
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(logs.get()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	lines := logs.get()
	if len(lines) != 1 || !strings.Contains(lines[0], "API server unreachable") || !strings.Contains(lines[0], "no answer within 20ms") {
		t.Fatalf("logged %q; want one unreachable line naming the timeout", lines)
	}
	if got := testutil.ToFloat64(h.reachable); got != 0 {
		t.Errorf("reachable %v, want 0", got)
	}
	if got := testutil.ToFloat64(h.lastContact); got != 0 {
		t.Errorf("last contact %v, want 0 (never)", got)
	}
}

// TestReadyzProbe: the probe GETs /readyz and fails on anything but a 2xx
// or when nothing answers.
func TestReadyzProbe(t *testing.T) {
	status := http.StatusOK
	var paths []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		code := status
		mu.Unlock()
		w.WriteHeader(code)
		fmt.Fprint(w, "[-]etcd failed")
	}))
	probe, err := readyzProbe(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := probe(ctx); err != nil {
		t.Errorf("API server ready: %v; want nil", err)
	}
	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	if err := probe(ctx); err == nil {
		t.Error("API server answering 500: nil; want an error")
	}
	mu.Lock()
	if len(paths) == 0 || paths[0] != "GET /readyz" {
		t.Errorf("requests %q; want GET /readyz", paths)
	}
	mu.Unlock()
	srv.Close()
	if err := probe(ctx); err == nil {
		t.Error("API server gone: nil; want an error")
	}
}
