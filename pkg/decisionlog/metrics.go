package decisionlog

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count commits, records and failures of the decision log.
type Metrics struct {
	records  prometheus.Counter
	failures prometheus.Counter
	dropped  prometheus.Counter
	batch    prometheus.Histogram
	latency  prometheus.Histogram
}

// NewMetrics builds the collectors; register them with Collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "microguard_decision_log_records_total", Help: "Decision records committed."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "microguard_decision_log_write_failures_total",
			Help: "Decision records the store could not commit."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "microguard_decision_log_dropped_total",
			Help: "Requests answered without a decision record (decisionLog.onFailure: allow)."}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "microguard_decision_log_batch_size",
			Help: "Records per group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "microguard_decision_log_commit_seconds",
			Help: "Time of one group commit.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14)}),
	}
}

// Collectors are the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.records, m.failures, m.dropped, m.batch, m.latency}
}

// Dropped counts a request answered without its record.
func (m *Metrics) Dropped() {
	if m != nil {
		m.dropped.Inc()
	}
}

func (m *Metrics) commit(n int, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.batch.Observe(float64(n))
	m.latency.Observe(d.Seconds())
	if err != nil {
		m.failures.Add(float64(n))
		return
	}
	m.records.Add(float64(n))
}
