package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
)

// apiProxy is a TCP proxy in front of the API server that the test can cut
// (listener and every connection closed) and restore on the same address.
type apiProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func startAPIProxy(t *testing.T, target string) *apiProxy {
	t.Helper()
	p := &apiProxy{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *apiProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *apiProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil { // cut meanwhile
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *apiProxy) forward(in net.Conn) {
	out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		in.Close()
		return
	}
	if !p.track(in, out) {
		in.Close()
		out.Close()
		return
	}
	go func() { _, _ = io.Copy(out, in); out.Close() }()
	_, _ = io.Copy(in, out)
	in.Close()
}

// cut closes the listener and every connection: nothing reaches the API
// server through the proxy, and a new connection is refused.
func (p *apiProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// restore listens again on the same address.
func (p *apiProxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// gauge reads one unlabelled gauge from a /metrics URL (ok false when it is
// not there or the scrape failed).
func gauge(metricsURL, name string) (float64, bool) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(metricsURL + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil || fams[name] == nil || len(fams[name].GetMetric()) != 1 {
		return 0, false
	}
	return fams[name].GetMetric()[0].GetGauge().GetValue(), true
}

// TestAPIServerUnreachable: a microguard reaches the API server through a
// proxy the test cuts. microguard_api_server_reachable drops to 0, /readyz
// stays 200, and reviews keep being decided with the namespace labels the
// informer last saw (owner inherited from the namespace: admitted in the
// namespace that has it, denied in the one that does not); a namespace it
// never saw is refused, naming it. Once the proxy is back the gauge is 1
// again and a namespace created meanwhile is decided on its labels.
func TestAPIServerUnreachable(t *testing.T) {
	const (
		owned = "apidown-owned"
		bare  = "apidown-bare"
	)
	// New on every run (-count=N): a namespace this microguard never saw.
	during := fmt.Sprintf("apidown-new-%d", time.Now().UnixNano())
	namespace(t, owned, map[string]string{"owner": "ana"})
	namespace(t, bare, nil)
	dir := t.TempDir()

	target, err := url.Parse(cluster.RestConfig.Host)
	if err != nil || target.Host == "" {
		t.Fatalf("API server address %q: %v", cluster.RestConfig.Host, err)
	}
	proxy := startAPIProxy(t, target.Host)
	kc, err := clientcmd.LoadFromFile(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range kc.Clusters {
		// Same host (127.0.0.1, which the serving certificate covers), the
		// proxy's port.
		u, err := url.Parse(c.Server)
		if err != nil || u.Hostname() != "127.0.0.1" {
			t.Fatalf("cluster %s: server %q; want https://127.0.0.1:port", name, c.Server)
		}
		c.Server = "https://" + proxy.addr
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "config.yaml")
	// Owner inherited from the namespace: the decision depends on its
	// labels. Mutations off: reviews come straight to /validate.
	if err := os.WriteFile(conf, []byte(`apiVersion: microguard.io/v1alpha1
policies:
  owner-labels:
    action: deny
    labels: [owner]
    inheritFromNamespace: true
mutations:
  cost-tags: {enabled: false}
  default-resources: {enabled: false}
  opentelemetry: {enabled: false}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	// The later --kubeconfig and --config win over the cluster's.
	mg := startExtra(t, "apiserver-down.log", "--kubeconfig", kubeconfig, "--config", conf)

	httpc := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a test against its own server
	n := 0
	validate := func(ns string) *admissionv1.AdmissionResponse {
		t.Helper()
		n++
		pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("p%d", n)}, Spec: podTemplate(nil).Spec}
		raw, _ := json.Marshal(pod)
		uid := fmt.Sprintf("apidown-%d", n)
		body, _ := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{
				UID: types.UID(uid), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
				Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: ns, Name: pod.Name,
				Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
			},
		})
		resp, err := httpc.Post(mg.WebhookURL+"/validate?timeout=10s", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var out admissionv1.AdmissionReview
		if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &out) != nil || out.Response == nil || string(out.Response.UID) != uid {
			t.Fatalf("namespace %s: %s: %s", ns, resp.Status, data)
		}
		return out.Response
	}
	message := func(r *admissionv1.AdmissionResponse) string {
		if r.Result == nil {
			return ""
		}
		return r.Result.Message
	}
	decidedOnLabels := func(when string) {
		t.Helper()
		if r := validate(owned); !r.Allowed {
			t.Errorf("%s: pod without owner in %s (owner: ana) refused: %s", when, owned, message(r))
		}
		if r := validate(bare); r.Allowed || !strings.Contains(message(r), "owner-labels/missing-label") {
			t.Errorf("%s: pod without owner in %s (no owner label): allowed %v, %q; want a missing-label denial", when, bare, r.Allowed, message(r))
		}
	}
	waitGauge := func(want float64, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			v, ok := gauge(mg.MetricsURL, "microguard_api_server_reachable")
			if ok && v == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("microguard_api_server_reachable = %v (found: %v) after %s; want %v", v, ok, within, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	ready := func(when string) {
		t.Helper()
		resp, err := http.Get(mg.HealthURL + "/readyz?verbose")
		if err != nil {
			t.Fatalf("%s: /readyz: %v", when, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: /readyz %s; want 200:\n%s", when, resp.Status, body)
		}
	}

	waitGauge(1, 10*time.Second)
	before, _ := gauge(mg.MetricsURL, "microguard_api_server_last_contact_timestamp_seconds")
	if now := float64(time.Now().Unix()); before < now-30 || before > now+1 {
		t.Errorf("last contact %v; want about now (%v)", before, now)
	}
	decidedOnLabels("API server reachable")

	proxy.cut()
	cutAt := time.Now()
	waitGauge(0, 15*time.Second)
	t.Logf("gauge at 0 %s after the cut", time.Since(cutAt).Round(time.Millisecond))
	ready("API server unreachable")
	decidedOnLabels("API server unreachable")
	// A namespace created now (through the real API server) is one this
	// microguard has not seen and cannot read.
	namespace(t, during, map[string]string{"owner": "ana"})
	r := validate(during)
	want := fmt.Sprintf("microguard does not know namespace %q (not in its cache, and reading it from the API server failed: ", during)
	if r.Allowed || !strings.Contains(message(r), want) || !strings.Contains(message(r), "refused, as its labels decide policies") {
		t.Errorf("unseen namespace while unreachable: allowed %v, %q; want a refusal with %q", r.Allowed, message(r), want)
	}
	stale, _ := gauge(mg.MetricsURL, "microguard_api_server_last_contact_timestamp_seconds")
	if stale > float64(cutAt.Unix())+1 {
		t.Errorf("last contact %v moved after the cut (%v)", stale, cutAt.Unix())
	}
	ready("API server still unreachable")

	proxy.restore(t)
	waitGauge(1, 15*time.Second)
	if after, _ := gauge(mg.MetricsURL, "microguard_api_server_last_contact_timestamp_seconds"); after <= stale {
		t.Errorf("last contact %v after the return; want later than %v", after, stale)
	}
	if r := validate(during); !r.Allowed {
		t.Errorf("namespace created during the outage, once reachable: refused: %s", message(r))
	}
	decidedOnLabels("API server reachable again")
	log, _ := os.ReadFile(mg.Log)
	for _, line := range []string{"API server unreachable: deciding with the namespace and storage class labels last seen", "API server reachable again"} {
		if !bytes.Contains(log, []byte(line)) {
			t.Errorf("log lacks %q", line)
		}
	}
}
