package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	return scrapeFrom(t, cluster.MetricsURL)
}

// scrapeFrom reads the metrics a microguard serves at metricsURL.
func scrapeFrom(t *testing.T, metricsURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// sum adds the values (counter, gauge, or histogram count) of the
// family's series whose labels include want.
func sum(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	total := 0.0
series:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// TestMetricsAfterRequests: requests through the API server move the
// admission, policy, verification and decision log metrics.
func TestMetricsAfterRequests(t *testing.T) {
	ctx := context.Background()
	before := scrape(t)
	namespace(t, "metrics", map[string]string{"owner": "ana"})
	owner := map[string]string{"owner": "ana"}
	if err := cluster.Client.Create(ctx, deployment("metrics", "ok", owner, map[string]string{"owner": "ana"})); err != nil {
		t.Fatal(err)
	}
	denied(t, cluster.Client.Create(ctx, deployment("metrics", "bad", nil, map[string]string{"owner": "ana"})), "owner-labels")
	if err := cluster.Client.Create(ctx, signedPod("metrics", "signed", signing.signedMenuTag)); err != nil {
		t.Fatal(err)
	}
	after := scrape(t)
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"microguard_admission_requests_total", map[string]string{"webhook": "validate", "kind": "Deployment", "decision": "allowed"}},
		{"microguard_admission_requests_total", map[string]string{"webhook": "validate", "kind": "Deployment", "decision": "denied"}},
		{"microguard_admission_requests_total", map[string]string{"webhook": "mutate", "kind": "Pod", "decision": "allowed"}},
		{"microguard_admission_violations_total", map[string]string{"webhook": "validate", "policy": "owner-labels", "action": "deny"}},
		{"microguard_admission_request_duration_seconds", map[string]string{"webhook": "validate"}},
		{"microguard_admission_request_duration_seconds", map[string]string{"webhook": "mutate"}},
		{"microguard_policy_evaluation_duration_seconds", nil},
		{"microguard_image_verifications_total", map[string]string{"result": "verified"}},
		{"microguard_decision_log_records_total", nil},
		{"microguard_decision_log_commit_seconds", nil},
	} {
		if b, a := sum(before, c.name, c.labels), sum(after, c.name, c.labels); a <= b || a <= 0 {
			t.Errorf("%s%v: %v before, %v after the requests", c.name, c.labels, b, a)
		}
	}
	for _, name := range []string{"microguard_build_info", "microguard_decision_log_queue_depth", "microguard_decision_log_write_failures_total", "microguard_image_verification_cache_total", "microguard_policy_plan_fallbacks_total"} {
		if after[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
	// The plan evaluator decided every request itself.
	if n := sum(after, "microguard_policy_plan_fallbacks_total", nil); n != 0 {
		t.Errorf("topdown decided %v requests in the plan evaluator's place", n)
	}
	if f := after["microguard_admission_request_duration_seconds"]; f != nil {
		b := f.GetMetric()[0].GetHistogram().GetBucket()
		if b[0].GetUpperBound() != 0.0001 || b[len(b)-1].GetUpperBound() < 9.99 {
			t.Errorf("duration buckets go from %v to %v, want 100µs to 10s", b[0].GetUpperBound(), b[len(b)-1].GetUpperBound())
		}
	}
	if sum(after, "microguard_build_info", map[string]string{"version": "dev"}) != 1 {
		t.Errorf("build info: %v", after["microguard_build_info"])
	}
}

// TestServesWithThePlanEvaluator: microguard says at start which evaluator
// decides its requests, and with the built-in bundle and this config it is
// the plan evaluator (topdown only where the plan evaluator cannot).
func TestServesWithThePlanEvaluator(t *testing.T) {
	log, err := os.ReadFile(cluster.MicroguardLog)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for line := range strings.SplitSeq(string(log), "\n") {
		if !strings.Contains(line, `"msg":"serving"`) {
			continue
		}
		found = true
		if !strings.Contains(line, `"evaluator":"plan"`) {
			t.Errorf("microguard serves with another evaluator: %s", line)
		}
	}
	if !found {
		t.Fatalf("no serving line in microguard's log:\n%s", log)
	}
}
