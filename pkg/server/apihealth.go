package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// APIHealth says whether microguard can reach the API server. While it
// cannot, the namespace and storage class informers keep the objects they
// last saw (client-go's reflector keeps its store and retries the list and
// watch with a backoff), so reviews are still decided with the labels last
// known; a namespace they never saw cannot be read and is refused. Nothing
// else would show that the labels are getting old: the informers log their
// watch errors but expose no state, and their watch error handler
// (cache.Options.DefaultWatchErrorHandler) reports failures, not recovery.
// So a prober asks the API server for /readyz every few seconds (allowed to
// every client by the default system:public-info-viewer role) and keeps two
// gauges and a log line on each change.
//
// It adds no readiness check, on purpose: every replica depends on the same
// API server, so failing /readyz while it is away would take every replica
// out of the Service at once, and validation (failurePolicy: Fail) down with
// it, when the API server comes back or when it can still call microguard
// though microguard cannot call it (another instance, another network
// path), while the caches can still decide. /readyz still waits for the
// first sync of the caches at start.
type APIHealth struct {
	reachable   prometheus.Gauge
	lastContact prometheus.Gauge
	// Interval between probes and Timeout of one probe.
	Interval, Timeout time.Duration
	now               func() time.Time
}

// NewAPIHealth builds the gauges; register them with Collectors and pass
// it in Options.APIHealth.
func NewAPIHealth() *APIHealth {
	return &APIHealth{
		reachable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "microguard_api_server_reachable",
			Help: "1 when the last probe of the API server (GET /readyz, every few seconds) succeeded, 0 when it failed: namespace and storage class labels are then those last seen, and a namespace microguard never saw is refused.",
		}),
		lastContact: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "microguard_api_server_last_contact_timestamp_seconds",
			Help: "Unix time of the last successful probe of the API server (0: none yet); the namespace and storage class caches have missed changes made since about then.",
		}),
		Interval: 5 * time.Second,
		Timeout:  3 * time.Second,
		now:      time.Now,
	}
}

// Collectors are the gauges to register.
func (h *APIHealth) Collectors() []prometheus.Collector {
	return []prometheus.Collector{h.reachable, h.lastContact}
}

// start adds the prober to mgr; it runs while the manager does.
func (h *APIHealth) start(mgr manager.Manager, log logr.Logger) error {
	probe, err := readyzProbe(mgr.GetConfig())
	if err != nil {
		return err
	}
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		h.run(ctx, probe, log)
		return nil
	}))
}

// readyzProbe asks the API server for /readyz with cfg's address and
// credentials.
func readyzProbe(cfg *rest.Config) (func(context.Context) error, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("API server prober: %w", err)
	}
	rc := dc.RESTClient()
	return func(ctx context.Context) error {
		return rc.Get().AbsPath("/readyz").Do(ctx).Error()
	}, nil
}

// run probes at once, then every Interval, until ctx is done.
func (h *APIHealth) run(ctx context.Context, probe func(context.Context) error, log logr.Logger) {
	t := time.NewTicker(h.Interval)
	defer t.Stop()
	var st probeState
	for {
		pctx, cancel := context.WithTimeout(ctx, h.Timeout)
		err := probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		h.observe(&st, err, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probeState is what the last probes said.
type probeState struct {
	known, up bool
	since     time.Time // of the current state
}

// observe records one probe's outcome, logging a change of state.
func (h *APIHealth) observe(st *probeState, err error, log logr.Logger) {
	now := h.now()
	if err == nil {
		h.reachable.Set(1)
		h.lastContact.Set(float64(now.UnixNano()) / 1e9)
		if st.known && !st.up {
			log.Info("API server reachable again: namespace and storage class caches resume following it", "unreachableFor", now.Sub(st.since).Round(time.Second).String())
		}
		if !st.known || !st.up {
			*st = probeState{known: true, up: true, since: now}
		}
		return
	}
	h.reachable.Set(0)
	if !st.known || st.up {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", h.Timeout, err)
		}
		log.Error(err, "API server unreachable: deciding with the namespace and storage class labels last seen; a namespace not seen before is refused")
		*st = probeState{known: true, since: now}
	}
}
