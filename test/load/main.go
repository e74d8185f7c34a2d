// Command load measures microguard against the floor: it starts a real
// local control plane with microguard serving every policy and mutation
// (signature cache warm, decision log on), starts an always-allow webhook
// on the same stack and certificate (controller-runtime's webhook server
// and review decoding) as a separate process, and the OCI registry as
// another (so neither takes CPU from the load generator's process or
// waits on it), then sends AdmissionReviews
// over HTTPS to both: closed loop at a concurrency, for the throughput
// ratio, and open loop at a rate, for the latency percentiles of both. It
// prints the figures and writes them to a Markdown file.
//
//	go run ./test/load -out BENCHMARKS.md      (make bench)
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	evanjsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/microguard/microguard/pkg/verify/verifytest"
	"github.com/microguard/microguard/test/localcluster"
)

func main() {
	microguard := flag.String("microguard", "bin/microguard", "microguard binary")
	k8sBin := flag.String("k8s-bin", "bin/k8s", "directory with kube-apiserver, etcd and kubectl")
	duration := flag.Duration("duration", 10*time.Second, "length of each measurement")
	concurrency := flag.Int("concurrency", 16, "closed loop: requests in flight")
	rate := flag.Int("rate", 500, "open loop: requests a second")
	rounds := flag.Int("rounds", 5, "closed loop: the floor and microguard take turns this many times, each turn duration/rounds long, so that a drift of the machine's speed meets both")
	out := flag.String("out", "", "write the figures to this Markdown file (between its load and gobench markers, keeping the rest)")
	goBench := flag.String("go-bench", "", "output of go test -bench -benchmem whose hot-path figures go to -out")
	cpuProfile := flag.String("cpuprofile", "", "write microguard's CPU profile, taken during its middle closed-loop turn of each review, to FILE.<n>")
	compare := flag.String("compare", "", "another microguard binary (e.g. built from another commit) that takes closed-loop turns with microguard (in either order, after the floor's) and an open loop after the floor's (in either order too), so that one run compares the two builds under the same drift of the machine; its rows are printed, never written to -out")
	floorAddr := flag.String("floor-serve", "", "internal: serve the always-allow floor webhook on this port")
	certDir := flag.String("cert-dir", "", "internal: the floor's certificate directory")
	registryAddr := flag.String("registry-serve", "", "internal: serve the OCI registry on this port")
	flag.Parse()
	if *floorAddr != "" {
		if err := serveFloor(*floorAddr, *certDir); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		return
	}
	if *registryAddr != "" {
		if err := serveRegistry(*registryAddr); err != nil {
			fmt.Fprintln(os.Stderr, "registry:", err)
			os.Exit(1)
		}
		return
	}
	if *rounds < 1 {
		fmt.Fprintln(os.Stderr, "load: -rounds must be at least 1")
		os.Exit(2)
	}
	if err := run(options{microguard: *microguard, k8sBin: *k8sBin, duration: *duration, concurrency: *concurrency, rate: *rate, rounds: *rounds,
		out: *out, goBench: *goBench, cpuProfile: *cpuProfile, compare: *compare}); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// serveFloor is the always-allow webhook: the same server, TLS settings and
// review decoding as microguard, and no decision at all.
func serveFloor(port, certDir string) error {
	ctrllog.SetLogger(logr.Discard())
	p, err := strconv.Atoi(port)
	if err != nil {
		return err
	}
	srv := webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: p, CertDir: certDir, TLSOpts: []func(*tls.Config){func(c *tls.Config) {
		c.MinVersion = tls.VersionTLS12
		c.NextProtos = []string{"http/1.1"}
	}}})
	allow := &webhook.Admission{Handler: admission.HandlerFunc(func(context.Context, admission.Request) admission.Response { return admission.Allowed("") })}
	srv.Register("/validate", allow)
	srv.Register("/mutate", allow)
	ctx, stop := signalContext()
	defer stop()
	return srv.Start(ctx)
}

// serveRegistry serves go-containerregistry's in-memory registry (the one
// the tests use) over plain HTTP on loopback, until SIGTERM.
func serveRegistry(port string) error {
	srv := &http.Server{Addr: net.JoinHostPort("127.0.0.1", port), Handler: verifytest.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signalContext()
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startSelf runs this program again with args (an internal serving mode)
// and returns how to stop it.
func startSelf(args ...string) (stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }, nil
}

func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		ch := make(chan os.Signal, 1)
		signalNotify(ch)
		<-ch
		cancel()
	}()
	return ctx, cancel
}

const configTemplate = `apiVersion: microguard.io/v1alpha1
policies:
  owner-labels: {action: deny, labels: [owner]}
  pod-security: {action: deny}
  public-storage: {action: deny}
  image-signature:
    action: deny
    unmatched: deny
    rules:
    - images: ["{{REG}}/**"]
      keys: ["{{KEY}}"]
      tlog: false
mutations:
  cost-tags: {enabled: true}
  default-resources: {enabled: true}
  opentelemetry: {enabled: true}
  pin-digests: {enabled: true}
`

type scenario struct {
	name, path string
	body       []byte
	allowed    bool
	// patchHas is what the answer's patch must contain ("" for none): the
	// /mutate answer must pin the image, not just allow the pod.
	patchHas string
	// deniedBy are the policies a denial must name, and only these.
	deniedBy []string
}

// right reports whether r is the answer sc wants.
func (sc scenario) right(r *admissionv1.AdmissionResponse) bool {
	if r.Allowed != sc.allowed || (sc.patchHas != "" && !bytes.Contains(r.Patch, []byte(sc.patchHas))) {
		return false
	}
	if sc.deniedBy == nil {
		return true
	}
	if r.Result == nil {
		return false
	}
	var named []string
	for _, m := range policyInDenial.FindAllStringSubmatch(r.Result.Message, -1) {
		named = append(named, m[1])
	}
	slices.Sort(named)
	return slices.Equal(slices.Compact(named), sc.deniedBy)
}

// policyInDenial finds the policy of each violation a denial lists, as
// "[<policy>/<rule>]".
var policyInDenial = regexp.MustCompile(`\[([a-z0-9-]+)/[^\]]*\]`)

// options are the load tool's flags (see main).
type options struct {
	microguard, k8sBin                string
	duration                          time.Duration
	concurrency, rate, rounds         int
	out, goBench, cpuProfile, compare string
}

func run(opt options) error {
	tb := &verifytest.Standalone{}
	defer tb.Close()
	dir, err := os.MkdirTemp("", "microguard-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	regPort, err := localcluster.FreePort()
	if err != nil {
		return err
	}
	stopRegistry, err := startSelf("-registry-serve", strconv.Itoa(regPort))
	if err != nil {
		return err
	}
	defer stopRegistry()
	reg := verifytest.At(fmt.Sprintf("127.0.0.1:%d", regPort))
	if err := waitRegistry(reg.Host); err != nil {
		return err
	}
	key := verifytest.NewKey(tb, "ecdsa")
	keyPath := key.WritePublicKey(tb, dir, "key.pub")
	digest := reg.Push(tb, "shop/menu", "1.0")
	reg.Sign(tb, digest, key)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(strings.NewReplacer("{{REG}}", reg.Host, "{{KEY}}", keyPath).Replace(configTemplate)), 0o600); err != nil {
		return err
	}
	ctx := context.Background()
	fmt.Println("== starting kube-apiserver, etcd and microguard (every policy and mutation, decision log on)")
	pprofPort, err := localcluster.FreePort()
	if err != nil {
		return err
	}
	cluster, err := localcluster.Start(ctx, localcluster.Options{K8sBin: opt.k8sBin, Microguard: opt.microguard, Config: cfg, Dir: dir,
		DecisionLog: filepath.Join(dir, "decisions.db"), ExtraArgs: []string{"--pprof-port", strconv.Itoa(pprofPort)}})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	// shop gives its pods an owner; lab does not (so a pod there without
	// an owner label is denied even after the mutating webhook).
	for name, labels := range map[string]map[string]string{
		"shop": {"owner": "ana", "team": "food", "cost-center": "cc-1", "env": "prod"},
		"lab":  {"team": "food", "cost-center": "cc-1", "env": "dev"},
	} {
		if err := cluster.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
			return err
		}
	}
	floorPort, err := localcluster.FreePort()
	if err != nil {
		return err
	}
	stopFloor, err := startSelf("-floor-serve", strconv.Itoa(floorPort), "-cert-dir", cluster.CertDir)
	if err != nil {
		return err
	}
	defer stopFloor()
	floorURL := fmt.Sprintf("https://127.0.0.1:%d", floorPort)
	if err := waitTLS(floorURL); err != nil {
		return err
	}
	// other is the -compare build: the same config, a decision log of its
	// own.
	var other *localcluster.Process
	if opt.compare != "" {
		port, err := localcluster.FreePort()
		if err != nil {
			return err
		}
		if other, err = cluster.StartExtra(ctx, localcluster.Extra{Port: port, Log: "microguard-compare.log", Binary: opt.compare}, "--decision-log", filepath.Join(dir, "decisions-compare.db")); err != nil {
			return err
		}
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: opt.concurrency * 2, MaxConnsPerHost: opt.concurrency * 2,
	}}
	// The open loop must not wait for a connection: any number of them,
	// kept alive between requests.
	openClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 1024,
	}}
	scenarios, err := makeScenarios(ctx, client, cluster.Client, cluster.WebhookURL, reg.Image("shop/menu", "1.0"))
	if err != nil {
		return err
	}
	var rows []string
	var figures []measured
	for i, sc := range scenarios {
		// Warm up every server (caches, connections, signature
		// verification).
		closedLoop(client, floorURL, sc, opt.concurrency, time.Second)
		closedLoop(client, cluster.WebhookURL, sc, opt.concurrency, time.Second)
		if other != nil {
			closedLoop(client, other.WebhookURL, sc, opt.concurrency, time.Second)
		}
		// The floor and microguard take turns; the throughput of each is
		// its mean over its turns.
		turn := opt.duration / time.Duration(opt.rounds)
		l := loop{client: client, sc: sc, concurrency: opt.concurrency, turn: turn}
		var floor float64
		mine := turns{name: sc.name, url: cluster.WebhookURL, pid: cluster.Pid()}
		var cmp turns
		if other != nil {
			cmp = turns{name: sc.name + " (-compare build)", url: other.WebhookURL, pid: other.Cmd.Process.Pid}
		}
		for r := range opt.rounds {
			fr := closedLoop(client, floorURL, sc, opt.concurrency, turn)
			floor += fr.throughput / float64(opt.rounds)
			contenders := []func() error{func() error {
				profiled := make(chan error, 1)
				if opt.cpuProfile != "" && r == opt.rounds/2 {
					// The profile is of one microguard turn (the middle one).
					go func() { profiled <- saveProfile(pprofPort, turn, fmt.Sprintf("%s.%d", opt.cpuProfile, i)) }()
				} else {
					profiled <- nil
				}
				if err := mine.take(l, fr.throughput); err != nil {
					return err
				}
				return <-profiled
			}}
			if other != nil {
				// The two builds take turns in either order, so that
				// neither always follows the floor.
				theirs := func() error { return cmp.take(l, fr.throughput) }
				if r%2 == 0 {
					contenders = append(contenders, theirs)
				} else {
					contenders = append([]func() error{theirs}, contenders...)
				}
			}
			for _, take := range contenders {
				if err := take(); err != nil {
					return err
				}
			}
		}
		// The open loop: the floor's first, as what the machine and the
		// load tool alone give at this rate (it allows everything, so
		// only its failures count), then microguard's and the -compare
		// build's, the two in either order.
		floorOpen := openLoop(openClient, floorURL, sc, opt.rate, opt.duration)
		if floorOpen.failed > 0 {
			return fmt.Errorf("the floor, %s at %d req/s: %d requests failed", sc.name, opt.rate, floorOpen.failed)
		}
		open := map[string]result{}
		urls := []string{cluster.WebhookURL}
		if other != nil {
			urls = append(urls, other.WebhookURL)
			if i%2 == 1 {
				slices.Reverse(urls)
			}
		}
		for _, u := range urls {
			var err error
			if open[u], err = openLoopChecked(openClient, u, sc, opt.rate, opt.duration); err != nil {
				return err
			}
		}
		row := mine.row(floor, open[cluster.WebhookURL], floorOpen)
		fmt.Println(row)
		rows = append(rows, row)
		figures = append(figures, measured{name: sc.name, ratio: mine.ratio(floor), p99: open[cluster.WebhookURL].p(0.99)})
		if other != nil {
			fmt.Println(cmp.row(floor, open[other.WebhookURL], floorOpen))
		}
	}
	if resp, err := http.Get(cluster.MetricsURL + "/metrics"); err == nil {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "microguard_decision_log_write_failures_total") || strings.HasPrefix(line, "microguard_decision_log_records_total") ||
				strings.HasPrefix(line, "microguard_admission_requests_total") || strings.HasPrefix(line, "microguard_decision_log_commit_seconds_count") || strings.HasPrefix(line, "microguard_decision_log_commit_seconds_sum") {
				fmt.Println("  " + line)
			}
		}
	}
	rss, err := localcluster.RSSMiB(cluster.Pid())
	if err != nil {
		return err
	}
	fmt.Printf("microguard RSS after the load: %.0f MiB\n", rss)
	verdict := verdict(belowTarget(figures, rss))
	fmt.Println(verdict)
	if other != nil {
		rss, err := localcluster.RSSMiB(other.Cmd.Process.Pid)
		if err != nil {
			return err
		}
		fmt.Printf("the -compare build's RSS after the load: %.0f MiB\n", rss)
	}
	if opt.out != "" {
		return writeReport(opt.out, opt.goBench, rows, rss, verdict, opt.duration, opt.concurrency, opt.rate, opt.rounds)
	}
	return nil
}

// makeScenarios builds the three reviews: an allowed Pod on /validate (as
// the mutating webhook left it: tagged, pinned, annotated), a denied Pod on
// /validate and a Pod on /mutate. Each pod is as the load's kube-apiserver
// sends it to the webhooks (asSent), not as the tool writes it.
func makeScenarios(ctx context.Context, client *http.Client, api crclient.Client, url, image string) ([]scenario, error) {
	no, yes := false, true
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "menu", Namespace: "shop", Labels: map[string]string{"owner": "ana", "app": "menu"}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{Name: "menu", Image: image, SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}},
		},
	}
	toMutate, toValidate, err := asSent(ctx, api, pod)
	if err != nil {
		return nil, err
	}
	mutate := review(admissionv1.Create, "shop", toMutate)
	// The pods /validate sees are mutated ones, as the API server sends
	// them (it calls the mutating webhook first).
	mutated, err := mutatedPod(client, url, mutate, toValidate)
	if err != nil {
		return nil, err
	}
	// The denied pod has no owner label and a privileged container, in a
	// namespace that gives no owner: denied by owner-labels and
	// pod-security (privileged and, at restricted, allowPrivilegeEscalation:
	// the API server refuses a privileged container that sets it false),
	// with every mutation applied.
	bad := pod.DeepCopy()
	bad.Namespace = "lab"
	delete(bad.Labels, "owner")
	bad.Spec.Containers[0].SecurityContext.Privileged = &yes
	bad.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = &yes
	badToMutate, badToValidate, err := asSent(ctx, api, bad)
	if err != nil {
		return nil, err
	}
	badMutated, err := mutatedPod(client, url, review(admissionv1.Create, "lab", badToMutate), badToValidate)
	if err != nil {
		return nil, err
	}
	return []scenario{
		{name: "/validate, allowed Pod", path: "/validate", body: review(admissionv1.Create, "shop", mutated), allowed: true},
		{name: "/validate, denied Pod", path: "/validate", body: review(admissionv1.Create, "lab", badMutated), allowed: false, deniedBy: []string{"owner-labels", "pod-security"}},
		{name: "/mutate, Pod", path: "/mutate", body: mutate, allowed: true, patchHas: "@sha256:"},
	}, nil
}

// asSent is pod as the API server sends it to the mutating and to the
// validating webhooks: created through api with a dry run in kube-system,
// whose requests microguard's webhooks do not see, and put back in its own
// namespace. Both carry what the API server adds before it calls the
// mutating webhooks (defaults, default tolerations, managedFields, the
// service account's token volume and its mount in every container); the
// validating ones also get what it fills in after them (uid,
// creationTimestamp, generation, status). A pod the API server refuses (an
// invalid one) is an error, and so is one without the token volume (the
// API server's ServiceAccount admission off).
func asSent(ctx context.Context, api crclient.Client, pod *corev1.Pod) (toMutate, toValidate []byte, err error) {
	p := pod.DeepCopy()
	p.Namespace = "kube-system"
	if err := api.Create(ctx, p, crclient.DryRunAll); err != nil {
		return nil, nil, fmt.Errorf("pod %s as the API server sends it: %w", pod.Name, err)
	}
	if err := localcluster.TokenVolume(p); err != nil {
		return nil, nil, fmt.Errorf("pod %s as the API server sends it: %w", pod.Name, err)
	}
	p.Namespace = pod.Namespace
	p.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	if toValidate, err = json.Marshal(p); err != nil {
		return nil, nil, err
	}
	p.UID, p.CreationTimestamp, p.Generation, p.Status = "", metav1.Time{}, 0, corev1.PodStatus{}
	toMutate, err = json.Marshal(p)
	return toMutate, toValidate, err
}

// mutatedPod is raw as the mutating webhook leaves it (body is its review).
func mutatedPod(client *http.Client, url string, body, raw []byte) ([]byte, error) {
	resp, err := post(client, url+"/mutate", body)
	if err != nil {
		return nil, err
	}
	if !resp.Allowed || len(resp.Patch) == 0 {
		return nil, fmt.Errorf("the mutating webhook did not mutate the pod: %+v", resp.Result)
	}
	patch, err := evanjsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		return nil, err
	}
	return patch.Apply(raw)
}

var uid atomic.Int64

func review(op admissionv1.Operation, namespace string, raw []byte) []byte {
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("load-" + strconv.FormatInt(uid.Add(1), 10)), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: namespace, Name: "menu", Operation: op,
			Object: k8sruntime.RawExtension{Raw: raw}, UserInfo: authenticationv1.UserInfo{Username: "load@example.com", Groups: []string{"developers"}},
		},
	}
	body, _ := json.Marshal(ar)
	return body
}

func post(client *http.Client, url string, body []byte) (*admissionv1.AdmissionResponse, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s: %s", resp.Status, data)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &ar); err != nil || ar.Response == nil {
		return nil, fmt.Errorf("no review in the answer: %v", err)
	}
	return ar.Response, nil
}

type result struct {
	throughput    float64
	lat           []time.Duration
	wrong, failed int
}

func (r result) p(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[int(q*float64(len(r.lat)-1))]
}

// ms is r's q-quantile in milliseconds, or "n/a" for no latencies.
func (r result) ms(q float64) string {
	if len(r.lat) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f ms", float64(r.p(q).Microseconds())/1000)
}

// closedLoop keeps concurrency requests in flight for d.
func closedLoop(client *http.Client, base string, sc scenario, concurrency int, d time.Duration) result {
	var mu sync.Mutex
	var res result
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			wrong, failed := 0, 0
			for time.Now().Before(deadline) {
				start := time.Now()
				r, err := post(client, base+sc.path, sc.body)
				lat = append(lat, time.Since(start))
				switch {
				case err != nil:
					failed++
				case !sc.right(r):
					wrong++
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.wrong += wrong
			res.failed += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.throughput = float64(len(res.lat)) / d.Seconds()
	slices.Sort(res.lat)
	return res
}

// openLoopChecked is openLoop, and an error if any answer was wrong or
// failed.
func openLoopChecked(client *http.Client, base string, sc scenario, rate int, d time.Duration) (result, error) {
	o := openLoop(client, base, sc, rate, d)
	if o.wrong > 0 || o.failed > 0 {
		return o, fmt.Errorf("%s at %d req/s: %d answers with the wrong decision, %d failed", sc.name, rate, o.wrong, o.failed)
	}
	return o, nil
}

// openLoop sends rate requests a second for d, each timed from when it was
// due (a slow answer delays nothing else but counts its queueing).
func openLoop(client *http.Client, base string, sc scenario, rate int, d time.Duration) result {
	n := int(d.Seconds() * float64(rate))
	lat := make([]time.Duration, n)
	start := time.Now()
	var wg sync.WaitGroup
	var wrong, failed atomic.Int64
	pace(n, start, time.Second/time.Duration(rate), func(i int, due time.Time) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := post(client, base+sc.path, sc.body)
			lat[i] = time.Since(due)
			switch {
			case err != nil:
				failed.Add(1)
			case !sc.right(r):
				wrong.Add(1)
			}
		}()
	})
	wg.Wait()
	slices.Sort(lat)
	return result{lat: lat, throughput: float64(n) / time.Since(start).Seconds(), wrong: int(wrong.Load()), failed: int(failed.Load())}
}

// saveProfile takes microguard's CPU profile for d (a little less, so it
// covers only the loop).
func saveProfile(port int, d time.Duration, path string) error {
	secs := max(1, int(d.Seconds())-1)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", port, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func waitTLS(url string) error {
	addr := strings.TrimPrefix(url, "https://")
	for range 100 {
		if c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the floor server at %s does not answer", url)
}

func waitRegistry(host string) error {
	for range 100 {
		if resp, err := http.Get("http://" + host + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the registry at %s does not answer", host)
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}

func writeReport(path, goBench string, rows []string, rss float64, verdict string, d time.Duration, concurrency, rate, rounds int) error {
	var b strings.Builder
	fmt.Fprintf(&b, `Measured %s on %d cores (%s), %s, by `+"`make bench`"+`
(`+"`go run ./test/load -go-bench bin/bench.txt -out BENCHMARKS.md`"+` after the `+"`go test -bench`"+` benchmarks).

microguard runs every policy (owner-labels, pod-security, public-storage,
image-signature with a warm signature cache) and every mutation, with the
decision log on (SQLite); the floor is an always-allow webhook on the same
stack (controller-runtime webhook server, same certificate and TLS settings,
same review decoding), in its own process. /mutate pins the Pod's image tag
to its digest through the tag cache (`+"`tagCacheTTL`"+`, 30 s by default), so
the registry (go-containerregistry's, on loopback, in a process of its own)
is asked once per 30 s rather than on every request, and the Pod's pull
credentials are read from the API server at most every 10 s; the /validate
reviews name the image by digest (a cache hit). Every pod is as the load's
kube-apiserver sends it (created there with a dry run, so it carries the
API server's defaults, default tolerations, managedFields and, as the
ServiceAccount admission plugin is on, the service account's token volume
and its mount), and both
/validate pods as it sends them after the mutating webhook: the allowed one
in a namespace that gives its pods an owner, the denied one (no owner
label, a privileged container, so two failing Pod Security checks) in one
that does not. Every answer is
checked (allowed or denied as expected, a denial names owner-labels and
pod-security and no other policy, /mutate's patch pins the image). Throughput
is closed loop at %d requests in flight, the floor and microguard taking
%d turns each of %s (%s in all for each), so that a drift of the machine's
speed meets both: the ratio is of their mean throughputs, and the range is
the lowest and highest ratio of one turn to the floor's turn before it.
CPU/review is microguard's own CPU time (user and system, from /proc) over
its turns, divided by the reviews it answered. Latency is open loop at %d
requests a second for %s, each request timed from when it was due (sent
from a thread that sleeps in nanosleep, so on time to about 0.2 ms); the
floor takes the same open loop first, and its p99 is what the machine and
the load tool alone give at that rate.

| review | floor req/s | microguard req/s | ratio | ratio by turn | CPU/review | p50 | p95 | p99 | max | floor p99 |
|---|---|---|---|---|---|---|---|---|---|---|
%s

microguard's RSS after the load: **%.0f MiB**.

Targets (issue 8): ratio ≥ 1/3 (goal 0.5); p99 ≤ 5 ms at 500 req/s (goal 2 ms); RSS ≤ 256 MiB.
%s
`, time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpuModel(), runtime.Version(), concurrency, rounds, d/time.Duration(rounds), d, rate, d, strings.Join(rows, "\n"), rss, verdict)
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc := string(old)
	if doc == "" {
		doc = "# microguard benchmarks\n\n"
	}
	doc = splice(doc, loadBegin, loadEnd, b.String())
	if goBench != "" {
		table, err := goBenchTable(goBench)
		if err != nil {
			return err
		}
		doc = splice(doc, benchBegin, benchEnd, "Hot paths, from `go test -p 1 -run '^$' -bench . -benchmem -count 3 ./pkg/... ./policies/...` (median of the runs, one package at a time):\n\n"+table)
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

// loop is how a closed-loop turn runs: the client, the review, the
// requests in flight and the turn's length.
type loop struct {
	client      *http.Client
	sc          scenario
	concurrency int
	turn        time.Duration
}

// turns are the closed-loop turns of one server (at url, process pid) on
// one review, each compared with the floor's turn before it: the sums of
// its throughput and of its CPU time (user and system) per review
// answered over the turns taken, a figure the floor's speed does not move
// (the machine's does), and the lowest and highest ratio of a turn.
type turns struct {
	name            string
	url             string
	pid             int
	throughput, cpu float64
	cpuUnknown      bool
	lo, hi          float64
	taken           int
}

// take runs one turn and adds it to t; floor is the throughput of the
// floor's turn before it.
func (t *turns) take(l loop, floor float64) error {
	cpu0, err0 := localcluster.CPUSeconds(t.pid)
	r := closedLoop(l.client, t.url, l.sc, l.concurrency, l.turn)
	cpu1, err1 := localcluster.CPUSeconds(t.pid)
	if r.wrong > 0 || r.failed > 0 {
		return fmt.Errorf("%s: %d answers with the wrong decision, %d failed", t.name, r.wrong, r.failed)
	}
	if err0 != nil || err1 != nil || len(r.lat) == 0 {
		t.cpuUnknown = true
	} else {
		t.cpu += (cpu1 - cpu0) / float64(len(r.lat))
	}
	t.throughput += r.throughput
	ratio := r.throughput / floor
	if t.taken == 0 || ratio < t.lo {
		t.lo = ratio
	}
	if t.taken == 0 || ratio > t.hi {
		t.hi = ratio
	}
	t.taken++
	return nil
}

// mean is t's mean throughput over its turns (at least one).
func (t *turns) mean() float64 { return t.throughput / float64(t.taken) }

// row is the report's row for t (its means over the turns taken, at least
// one) against the floor's mean throughput, with its open loop's latencies
// (p50, p95, p99, max) and the floor's p99 in the same open loop.
// ratio is the mean of t's turns over the floor's mean: the row's and the
// verdict's figure.
func (t *turns) ratio(floor float64) float64 { return t.mean() / floor }

func (t *turns) row(floor float64, open, floorOpen result) string {
	cpu := fmt.Sprintf("%.0f µs", t.cpu/float64(t.taken)*1e6)
	if t.cpuUnknown {
		cpu = "n/a"
	}
	return fmt.Sprintf("| %s | %.0f | %.0f | **%.2f** | %.2f–%.2f | %s | %s | %s | %s | %s | %s |", t.name, floor, t.mean(), t.ratio(floor), t.lo, t.hi,
		cpu, open.ms(0.50), open.ms(0.95), open.ms(0.99), open.ms(1), floorOpen.ms(0.99))
}

// Issue 8's targets, against which the load checks its figures.
const (
	minRatio = 1.0 / 3
	maxP99   = 5 * time.Millisecond
	maxRSS   = 256 // MiB
)

// measured are the figures of one review that have targets: microguard's
// throughput as a fraction of the floor's, and its p99 in the open loop.
type measured struct {
	name  string
	ratio float64
	p99   time.Duration
}

// belowTarget lists, in the order of the reviews, every figure of the run
// that misses its target, then the RSS if it does.
func belowTarget(figures []measured, rss float64) []string {
	var out []string
	for _, m := range figures {
		if m.ratio < minRatio {
			out = append(out, fmt.Sprintf("%s: ratio %.3f (target ≥ 1/3)", m.name, m.ratio))
		}
		if m.p99 > maxP99 {
			out = append(out, fmt.Sprintf("%s: p99 %.2f ms (target ≤ 5 ms)", m.name, float64(m.p99.Microseconds())/1000))
		}
	}
	if rss > maxRSS {
		out = append(out, fmt.Sprintf("RSS %.0f MiB (target ≤ %d MiB)", rss, maxRSS))
	}
	return out
}

// verdict is the report's line on the targets.
func verdict(below []string) string {
	if len(below) == 0 {
		return "Every target met in this run."
	}
	return "**Below target in this run**: " + strings.Join(below, "; ") + "."
}
