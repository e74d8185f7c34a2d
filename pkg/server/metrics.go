package server

import (
	"runtime"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/microguard/microguard/pkg/policy"
	"github.com/microguard/microguard/pkg/review"
)

// Metrics are the admission metrics on --metrics-port.
type Metrics struct {
	requests   *prometheus.CounterVec
	violations *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	policyEval prometheus.Histogram
	fallbacks  prometheus.Counter
	buildInfo  *prometheus.GaugeVec
}

// durationBuckets go from 100 µs to 10 s.
var durationBuckets = prometheus.ExponentialBucketsRange(0.0001, 10, 16)

// NewMetrics builds the collectors; register them with Collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "microguard_admission_requests_total",
			Help: "Admission requests answered, by webhook, operation, kind and decision (allowed, denied, error, exempt).",
		}, []string{"webhook", "operation", "kind", "decision"}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "microguard_admission_violations_total",
			Help: "Policy violations found, by webhook, policy and action (deny, warn, audit; waived when an exception waived it).",
		}, []string{"webhook", "policy", "action"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "microguard_admission_request_duration_seconds",
			Help:    "Time to answer an admission request, from decoding to the answer (decision record included).",
			Buckets: durationBuckets,
		}, []string{"webhook"}),
		policyEval: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "microguard_policy_evaluation_duration_seconds",
			Help:    "Time of one evaluation of the Rego bundle.",
			Buckets: durationBuckets,
		}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "microguard_policy_plan_fallbacks_total",
			Help: "Requests the plan evaluator could not decide (a built-in function's error, a number it cannot hold), which OPA's topdown then decided.",
		}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "microguard_build_info",
			Help: "1, labelled with the version, the Go version, the policy bundle revision and the config digest.",
		}, []string{"version", "goversion", "bundle", "config"}),
	}
}

// Collectors are the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.violations, m.duration, m.policyEval, m.fallbacks, m.buildInfo}
}

// SetBuildInfo records what is running.
func (m *Metrics) SetBuildInfo(version, bundle, config string) {
	m.buildInfo.Reset() // after a reload: only the serving bundle and config
	m.buildInfo.WithLabelValues(version, runtime.Version(), bundle, config).Set(1)
}

// ObservePolicyEvaluation records one evaluation of the bundle.
func (m *Metrics) ObservePolicyEvaluation(d time.Duration) {
	if m != nil {
		m.policyEval.Observe(d.Seconds())
	}
}

// Instrument has engine report each evaluation's time, and each request
// that topdown decided in the plan evaluator's place (counted, and logged
// at V(1) with the plan evaluator's error).
func (m *Metrics) Instrument(engine *policy.Engine, log logr.Logger) {
	engine.OnEvaluate(m.ObservePolicyEvaluation)
	engine.OnFallback(func(err error) {
		m.fallbacks.Inc()
		log.V(1).Info("the plan evaluator left a request to topdown", "error", err.Error())
	})
}

// decision is the outcome of an answer: allowed, denied, error (not
// evaluated) or exempt.
func decision(res review.Result, resp admission.Response) string {
	switch {
	case res.Err != nil:
		return "error"
	case res.Exempt != "":
		return "exempt"
	case !resp.Allowed:
		return "denied"
	}
	return "allowed"
}

// observe records an answer.
func (m *Metrics) observe(webhook string, req admission.Request, res review.Result, resp admission.Response, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(webhook, string(req.Operation), req.Kind.Kind, decision(res, resp)).Inc()
	m.duration.WithLabelValues(webhook).Observe(d.Seconds())
	for _, v := range res.Violations {
		action := string(v.Action)
		if v.Exception != nil {
			action = "waived"
		}
		m.violations.WithLabelValues(webhook, v.Policy, action).Inc()
	}
}
