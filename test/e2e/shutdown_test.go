package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/pkg/server"
	"github.com/microguard/microguard/pkg/verify/verifytest"
	"github.com/microguard/microguard/test/localcluster"
)

// gatedRegistry is an in-memory registry whose answers about the
// repositories under shut/ wait, once armed, until the test releases them:
// a registry slow enough that reviews are still in flight when SIGTERM
// comes, for as long as the test wants.
type gatedRegistry struct {
	*verifytest.Registry
	armed   atomic.Bool
	release chan struct{}
	mu      sync.Mutex
	waiting map[string]bool // repositories a request waits for
}

var gatedRepo = regexp.MustCompile(`^/v2/(shut/[^/]+)/`)

func startGatedRegistry(t *testing.T) *gatedRegistry {
	g := &gatedRegistry{release: make(chan struct{}), waiting: map[string]bool{}}
	inner := verifytest.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := gatedRepo.FindStringSubmatch(r.URL.Path); m != nil && g.armed.Load() {
			g.mu.Lock()
			g.waiting[m[1]] = true
			g.mu.Unlock()
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		g.open()
		srv.Close()
	})
	g.Registry = verifytest.At(strings.TrimPrefix(srv.URL, "http://"))
	return g
}

func (g *gatedRegistry) open() {
	select {
	case <-g.release:
	default:
		close(g.release)
	}
}

func (g *gatedRegistry) waitingFor() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiting)
}

// notReady reports whether p's /readyz fails because p is shutting down
// (controller-runtime answers a failed check with 500; any status from 400
// on takes a pod out of its Service's endpoints).
func notReady(p *localcluster.Process) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(p.HealthURL + "/readyz?verbose")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode >= 400 && strings.Contains(string(body), "[-]shutdown failed")
}

// validateReview posts a review of a pod running image to p's /validate.
func validateReview(c *http.Client, p *localcluster.Process, uid, image string) (*admissionv1.AdmissionReview, error) {
	pod := signedPod("load", "p-"+uid, image)
	raw, _ := json.Marshal(pod)
	body, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID(uid), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: "load", Name: pod.Name,
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
		},
	})
	resp, err := c.Post(p.WebhookURL+"/validate?timeout=25s", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, data)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &out); err != nil || out.Response == nil || string(out.Response.UID) != uid {
		return nil, fmt.Errorf("not a review answering %s: %s", uid, data)
	}
	return &out, nil
}

// TestSIGTERMFinishesReviewsInFlight: reviews wait on a slow registry when
// SIGTERM comes. Readiness fails at once while they are still running; each
// of them then gets its real answer (the signature was checked, not cut
// short); the process exits 0; and the decision log holds every answer,
// verifies and ends with a checkpoint of its head.
func TestSIGTERMFinishesReviewsInFlight(t *testing.T) {
	namespace(t, "load", nil)
	reg := startGatedRegistry(t)
	const n = 8
	images := make([]string, n)
	for i := range images {
		d := reg.Push(t, fmt.Sprintf("shut/app-%d", i), "1.0")
		reg.Sign(t, d, signing.keyA)
		images[i] = reg.Image(fmt.Sprintf("shut/app-%d", i), "1.0")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`apiVersion: microguard.io/v1alpha1
policies:
  owner-labels:
    action: deny
    labels: [owner]
  image-signature:
    action: deny
    unmatched: allow
    timeout: 20s
    rules:
    - images: ["%s/shut/**"]
      keys: ["%s"]
      tlog: false
  mutations-applied:
    action: off # reviews go straight to /validate, unmutated
`, reg.Host, signing.keyPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "shutdown.db")
	p := startExtra(t, "sigterm.log", "--config", conf, "--decision-log", logPath)

	reg.armed.Store(true)
	httpc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	type answer struct {
		uid    string
		review *admissionv1.AdmissionReview
		err    error
	}
	answers := make(chan answer, n)
	for i := range n {
		go func() {
			uid := fmt.Sprintf("sigterm-%d", i)
			ar, err := validateReview(httpc, p, uid, images[i])
			answers <- answer{uid, ar, err}
		}()
	}
	for deadline := time.Now().Add(20 * time.Second); reg.waitingFor() < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d reviews reached the registry", reg.waitingFor(), n)
		}
	}

	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	for !notReady(p) {
		if time.Since(sent) > 2*time.Second {
			t.Fatal("/readyz does not fail two seconds after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("/readyz failed %s after SIGTERM", time.Since(sent).Round(time.Millisecond))
	// Long enough for the webhook server to have begun stopping: a review
	// whose work the stop cancelled would be answered now.
	time.Sleep(time.Second)
	if len(answers) > 0 {
		a := <-answers
		t.Fatalf("a review was answered before the registry was (%s: %v %+v): the stop cut it short", a.uid, a.err, a.review)
	}
	select {
	case err := <-p.Exited():
		t.Fatalf("microguard exited (%v) with %d reviews in flight", err, n)
	default:
	}
	if !notReady(p) {
		t.Error("/readyz does not fail while reviews finish")
	}

	reg.open()
	answered := map[string]bool{}
	for range n {
		a := <-answers
		if a.err != nil {
			t.Errorf("review %s in flight at SIGTERM got no answer: %v", a.uid, a.err)
			continue
		}
		if r := a.review.Response; !r.Allowed {
			t.Errorf("review %s: denied (%v), want allowed: its image is signed", a.uid, r.Result)
		}
		answered[a.uid] = true
	}
	select {
	case err := <-p.Exited():
		if err != nil {
			t.Fatalf("microguard exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("microguard did not exit within 15s of its last review")
	}

	out := filepath.Join(dir, "export.jsonl")
	if code, msg := cli(t, "decisions", "export", "--decision-log", logPath, "-o", out); code != 0 {
		t.Fatalf("export: exit %d: %s", code, msg)
	}
	if code, msg := cli(t, "decisions", "verify", "--decision-log", logPath); code != 0 {
		t.Fatalf("verify: exit %d: %s", code, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for _, r := range readRecords(t, string(data)) {
		if r.Webhook == "validate" && answered[r.UID] && r.Allowed {
			delete(answered, r.UID)
		}
		last = max(last, r.Seq)
	}
	for uid := range answered {
		t.Errorf("answered review %s has no record", uid)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var cp struct{ Checkpoint decisionlog.Checkpoint }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cp); err != nil || cp.Checkpoint.Seq != last {
		t.Errorf("the log does not end with a checkpoint of its head (seq %d): %s", last, lines[len(lines)-1])
	}
}

// loadBalancer is a TCP proxy on loopback in front of microguard replicas,
// as a Service is: each new connection goes to a replica whose /readyz
// passed when last polled (every 50 ms, as endpoints follow readiness);
// a connection stays with its replica until either side closes it.
type loadBalancer struct {
	ln       net.Listener
	backends []*lbBackend
	next     atomic.Int64
}

type lbBackend struct {
	p     *localcluster.Process
	addr  string
	ready atomic.Bool
	conns atomic.Int64 // connections given to this replica
}

func startLoadBalancer(t *testing.T, ps ...*localcluster.Process) *loadBalancer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lb := &loadBalancer{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	for _, p := range ps {
		b := &lbBackend{p: p, addr: strings.TrimPrefix(p.WebhookURL, "https://")}
		b.ready.Store(true)
		lb.backends = append(lb.backends, b)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := http.Client{Timeout: time.Second}
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
				resp, err := c.Get(p.HealthURL + "/readyz")
				b.ready.Store(err == nil && resp.StatusCode == http.StatusOK)
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go lb.forward(c)
		}
	}()
	return lb
}

func (lb *loadBalancer) forward(c net.Conn) {
	var to *lbBackend
	for range lb.backends {
		b := lb.backends[int(lb.next.Add(1))%len(lb.backends)]
		if b.ready.Load() {
			to = b
			break
		}
	}
	if to == nil {
		c.Close() // no endpoints
		return
	}
	s, err := net.Dial("tcp", to.addr)
	if err != nil {
		c.Close()
		return
	}
	to.conns.Add(1)
	go func() { _, _ = io.Copy(s, c); s.Close(); c.Close() }()
	_, _ = io.Copy(c, s)
	c.Close()
	s.Close()
}

// TestTwoReplicasBehindOneAddressLoseNoAdmission: two microguard replicas
// serve one validating webhook (failurePolicy Fail) behind one address;
// pods are created (dry run) concurrently through the API server and one
// replica gets SIGTERM mid-way. Every create is admitted or denied by
// policy, none fails on a webhook call, and the stopped replica exits 0.
//
// The replicas run with --shutdown-delay 1s: the load balancer stops
// sending new connections once /readyz fails, but the API server keeps
// its open connections to the stopping replica and may send a review on
// one at the moment the server closes it. During the delay the replica
// still answers, each answer closing its connection, so that the API
// server's next review opens a connection to the other replica. In
// Kubernetes the chart's preStop sleep gives the same time: the pod is
// removed from the Service's endpoints while it still serves, before
// SIGTERM.
func TestTwoReplicasBehindOneAddressLoseNoAdmission(t *testing.T) {
	ctx := context.Background()
	namespace(t, "replicas", nil)
	var ps []*localcluster.Process
	for _, name := range []string{"replica-a", "replica-b"} {
		ps = append(ps, startExtra(t, name+".log", "--shutdown-delay", "1s"))
	}
	lb := startLoadBalancer(t, ps...)

	const hook = "validate.replicas.microguard.test"
	url := "https://" + lb.ln.Addr().String() + server.ValidatePath
	_, vwc := server.WebhookConfigurations(server.WebhookOptions{ClientConfig: func(string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: cluster.Env.WebhookInstallOptions.LocalServingCAData}
	}})
	vwc.Name = "replicas"
	vwc.Webhooks[0].Name = hook
	vwc.Webhooks[0].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "replicas"}}
	if err := cluster.Client.Create(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Client.Delete(context.Background(), vwc) })

	var n atomic.Int64
	create := func(compliant bool) error {
		pod := signedPod("replicas", fmt.Sprintf("r-%d", n.Add(1)), "registry.example/where2eat/menu:1.0")
		if !compliant {
			delete(pod.Labels, "owner")
		}
		return cluster.Client.Create(ctx, pod, client.DryRunAll)
	}
	// The API server picks the configuration up within moments.
	for deadline := time.Now().Add(20 * time.Second); lb.backends[0].conns.Load()+lb.backends[1].conns.Load() == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the API server never called the replicas")
		}
		if err := create(true); err != nil {
			t.Fatalf("a compliant pod: %v", err)
		}
	}

	var done, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				compliant := (w+i)%3 != 0
				err := create(compliant)
				switch {
				case compliant && err == nil:
				case !compliant && apierrors.IsForbidden(err) && strings.Contains(err.Error(), "[owner-labels/"):
				default:
					if failed.Add(1) <= 5 {
						t.Errorf("compliant=%v: %v", compliant, err)
					}
				}
				done.Add(1)
			}
		}()
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("waited 20s for %s", what)
			}
		}
	}
	waitFor("100 admissions", func() bool { return done.Load() >= 100 })
	killed, other := lb.backends[0], lb.backends[1]
	if killed.conns.Load() == 0 {
		t.Fatal("replica a was given no connection before SIGTERM")
	}
	if err := killed.p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	atKill, otherAtKill := done.Load(), other.conns.Load()
	var exitErr error
	waitFor("replica a to exit", func() bool {
		select {
		case exitErr = <-killed.p.Exited():
			return true
		default:
			return false
		}
	})
	atExit := done.Load()
	waitFor("100 admissions after replica a exited", func() bool { return done.Load() >= atExit+100 })
	close(stop)
	wg.Wait()
	t.Logf("%d admissions: %d before SIGTERM, %d while replica a stopped, %d after; connections: a %d, b %d (%d after SIGTERM); %d failed",
		done.Load(), atKill, atExit-atKill, done.Load()-atExit, killed.conns.Load(), other.conns.Load(), other.conns.Load()-otherAtKill, failed.Load())
	if exitErr != nil {
		t.Errorf("replica a exited with %v after SIGTERM, want 0", exitErr)
	}
	if failed.Load() > 0 {
		t.Errorf("%d of %d admissions failed", failed.Load(), done.Load())
	}
}
