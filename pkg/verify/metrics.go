package verify

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count verifications by result, cache hits and misses, and time
// the verifications that went to the registry.
type Metrics struct {
	results  *prometheus.CounterVec
	cacheOps *prometheus.CounterVec
	latency  prometheus.Histogram
}

// NewMetrics builds the collectors; register them with Collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "microguard_image_verifications_total",
			Help: "Image verifications by result (verified, unsigned, untrusted, unreachable, unmatched, invalid).",
		}, []string{"result"}),
		cacheOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "microguard_image_verification_cache_total",
			Help: "Lookups of the image verification cache by result (hit, miss).",
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "microguard_image_verification_duration_seconds",
			Help:    "Time to verify one image digest against the registry (cache misses only).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
}

// Collectors are the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.results, m.cacheOps, m.latency}
}

func (m *Metrics) result(o Outcome) {
	if m != nil {
		m.results.WithLabelValues(string(o)).Inc()
	}
}

func (m *Metrics) cache(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.cacheOps.WithLabelValues("hit").Inc()
	} else {
		m.cacheOps.WithLabelValues("miss").Inc()
	}
}

func (m *Metrics) observe(d time.Duration) {
	if m != nil {
		m.latency.Observe(d.Seconds())
	}
}
