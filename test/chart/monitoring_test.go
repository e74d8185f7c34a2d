package chart

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/pkg/exception"
	"github.com/microguard/microguard/pkg/reload"
	"github.com/microguard/microguard/pkg/server"
	"github.com/microguard/microguard/pkg/verify"
)

// TestMonitoringIsOffByDefault: no prometheus-operator or Grafana objects
// unless asked for (their CRDs may not exist).
func TestMonitoringIsOffByDefault(t *testing.T) {
	r := render(t, "")
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		if r.has(kind) {
			t.Errorf("%s rendered by default", kind)
		}
	}
	for _, o := range r.all("ConfigMap") {
		if strings.HasSuffix(o.Name, "-dashboard") {
			t.Error("dashboard rendered by default")
		}
	}
}

// TestMonitoring: the ServiceMonitor scrapes the metrics port of the
// webhook Service; the PrometheusRule has the alerts the issue asks for,
// on metrics the binary exposes; the dashboard is valid JSON.
func TestMonitoring(t *testing.T) {
	r := render(t, filepath.Join(chartDir(t), "ci", "monitoring-values.yaml"))

	sm := r.generic("ServiceMonitor", release)
	selector := map[string]string{}
	for k, v := range path(sm, "spec", "selector", "matchLabels").(map[string]any) {
		selector[k] = v.(string)
	}
	var scraped []string
	for _, o := range r.all("Service") {
		var svc corev1.Service
		strictInto(t, o, &svc)
		if labels.SelectorFromSet(selector).Matches(labels.Set(svc.Labels)) {
			scraped = append(scraped, svc.Name)
			ports := map[string]bool{}
			for _, p := range svc.Spec.Ports {
				ports[p.Name] = true
			}
			for _, ep := range path(sm, "spec", "endpoints").([]any) {
				if port := ep.(map[string]any)["port"].(string); !ports[port] {
					t.Errorf("ServiceMonitor scrapes port %q, which Service %s lacks", port, svc.Name)
				}
			}
		}
	}
	if !slices.Equal(scraped, []string{release}) {
		t.Errorf("ServiceMonitor selects Services %v, want [%s]", scraped, release)
	}

	rule := r.generic("PrometheusRule", release)
	alerts := map[string]string{}
	var exprs []string
	for _, g := range path(rule, "spec", "groups").([]any) {
		for _, ru := range g.(map[string]any)["rules"].([]any) {
			m := ru.(map[string]any)
			name, _ := m["alert"].(string)
			expr, _ := m["expr"].(string)
			if name == "" || strings.TrimSpace(expr) == "" {
				t.Errorf("rule %v has no alert name or expression", m)
			}
			if sev, _ := path(m, "labels", "severity").(string); !slices.Contains([]string{"critical", "warning", "info"}, sev) {
				t.Errorf("%s: severity %q", name, sev)
			}
			if strings.Count(expr, "(") != strings.Count(expr, ")") || strings.Count(expr, "{") != strings.Count(expr, "}") {
				t.Errorf("%s: unbalanced expression %s", name, expr)
			}
			alerts[name] = expr
			exprs = append(exprs, expr)
		}
	}
	for _, want := range []string{
		"MicroguardHighDenialRate",           // high denial rate
		"MicroguardWebhookCallErrors",        // error rate (API server side)
		"MicroguardWebhookErrorResponses",    // error rate (microguard side)
		"MicroguardWebhookLatencyHigh",       // p99 latency
		"MicroguardMemoryNearLimit",          // resource exhaustion
		"MicroguardCPUThrottled",             // resource exhaustion
		"MicroguardDecisionLogVolumeFilling", // resource exhaustion
		"MicroguardDecisionLogWriteFailures", // decision-log write failures
		"MicroguardConfigReloadFailing",      // a config change refused
		"MicroguardAPIServerUnreachable",     // labels may be going stale
		"MicroguardDown",
	} {
		if _, ok := alerts[want]; !ok {
			t.Errorf("no alert %s", want)
		}
	}
	if !strings.Contains(alerts["MicroguardWebhookLatencyHigh"], "histogram_quantile(0.99") {
		t.Errorf("latency alert is not a p99: %s", alerts["MicroguardWebhookLatencyHigh"])
	}

	var cm corev1.ConfigMap
	r.named("ConfigMap", release+"-dashboard", &cm)
	var dash struct {
		UID    string
		Panels []struct {
			Type    string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal([]byte(cm.Data["microguard.json"]), &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) < 5 {
		t.Errorf("dashboard uid %q, %d panels", dash.UID, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard labels %v", cm.Labels)
	}

	// Every microguard_* series alerted on or graphed is one the binary exports.
	known := binaryMetrics(t)
	for _, e := range exprs {
		for _, name := range regexp.MustCompile(`\bmicroguard_[a-z_]+`).FindAllString(e, -1) {
			base := regexp.MustCompile(`_(bucket|count|sum)$`).ReplaceAllString(name, "")
			if !known[name] && !known[base] {
				t.Errorf("%s is not a metric microguard exports (%v)", name, keys(known))
			}
		}
	}
}

// binaryMetrics are the names of microguard's own metrics.
func binaryMetrics(t *testing.T) map[string]bool {
	t.Helper()
	var cs []prometheus.Collector
	cs = append(cs, decisionlog.NewMetrics().Collectors()...)
	cs = append(cs, verify.NewMetrics().Collectors()...)
	cs = append(cs, exception.Collectors(func() exception.Set { return nil }, time.Now)...)
	cs = append(cs, reload.NewMetrics().Collectors()...)
	cs = append(cs, server.NewAPIHealth().Collectors()...)
	out := map[string]bool{}
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range cs {
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if m := re.FindStringSubmatch(d.String()); m != nil {
				out[m[1]] = true
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no metrics found in the binary's packages")
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDashboardFileIsJSON: dashboards/microguard.json itself parses (also
// when monitoring is off, so a broken file is caught early).
func TestDashboardFileIsJSON(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir(t), "dashboards", "microguard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatal("dashboards/microguard.json is not valid JSON")
	}
}
