// Package localcluster starts a real local control plane (kube-apiserver and
// etcd through controller-runtime's envtest), serves the microguard binary
// against it and registers both webhook configurations. The e2e tests and
// `make demo` share it.
package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/pkg/server"
	"github.com/microguard/microguard/test/rofs"
)

// Options say where the binaries are.
type Options struct {
	K8sBin     string // holds kube-apiserver, etcd and kubectl
	Microguard string // the microguard binary
	Config     string // microguard config file ("" for the defaults)
	// DecisionLog is passed as --decision-log ("" for none).
	DecisionLog string
	// ExtraArgs are more flags for microguard serve.
	ExtraArgs []string
	// CRDDirs hold CustomResourceDefinitions to install (object-storage kinds).
	CRDDirs []string
	// Dir holds the kubeconfig and logs; a temporary directory when empty.
	Dir string
	// Log receives progress lines (nil: discarded).
	Log io.Writer
	// ReadOnlyRoot runs every microguard the cluster starts as the
	// chart's pod runs it: every mount read-only but /proc, /sys and /dev,
	// writable only the directories its --cert-dir and --decision-log
	// name, where the chart mounts its volumes, and no TMPDIR (through
	// test/rofs/roexec; Linux, as root or in a user namespace).
	ReadOnlyRoot bool
}

// Cluster is a running control plane with microguard serving it.
type Cluster struct {
	Env        *envtest.Environment
	RestConfig *rest.Config
	Client     client.Client
	// Kubeconfig is the path of an admin kubeconfig for kubectl.
	Kubeconfig string
	// HealthURL and MetricsURL are microguard's plain HTTP endpoint bases;
	// WebhookURL its HTTPS one.
	HealthURL  string
	MetricsURL string
	WebhookURL string
	// CertDir holds the serving certificate microguard reads.
	CertDir string
	// MicroguardLog is the path of microguard's log.
	MicroguardLog string
	opts          Options
	roexec        string // the roexec binary, with ReadOnlyRoot
	proc          *exec.Cmd
	exited        chan error

	mu     sync.Mutex
	extras []*Process // started by StartExtra, stopped by Stop if still running
}

// Start starts etcd and kube-apiserver, then microguard, registers the
// webhooks and waits until microguard is ready.
func Start(ctx context.Context, o Options) (_ *Cluster, err error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Dir == "" {
		if o.Dir, err = os.MkdirTemp("", "microguard-cluster-"); err != nil {
			return nil, err
		}
	}
	for _, b := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(o.K8sBin, b)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run `make k8s-bins` first: %w", b, o.K8sBin, err)
		}
	}
	mutating, validating := server.WebhookConfigurations(server.WebhookOptions{
		// envtest rewrites a service path into https://<local address>/<path>.
		ClientConfig: func(path string) admissionregistrationv1.WebhookClientConfig {
			p := path[1:]
			return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Path: &p}}
		},
		ExcludedNamespaces: []string{"kube-system", "kube-node-lease"},
	})
	c := &Cluster{opts: o, Env: &envtest.Environment{
		BinaryAssetsDirectory: o.K8sBin,
		CRDDirectoryPaths:     o.CRDDirs,
		ErrorIfCRDPathMissing: len(o.CRDDirs) > 0,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks:   []*admissionregistrationv1.MutatingWebhookConfiguration{mutating},
			ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{validating},
			LocalServingHost:   "127.0.0.1",
		},
	}}
	// envtest turns off the API server's ServiceAccount admission; on, as
	// in a real cluster, it gives every pod its service account's token
	// volume (kube-api-access-<random>) and a mount of it in each
	// container. No controller makes a namespace's "default" service
	// account here: Start makes it in default and kube-system, and a
	// caller in the namespaces it creates before it creates pods there
	// (DefaultServiceAccount).
	c.Env.ControlPlane.GetAPIServer().Configure().Disable("disable-admission-plugins")
	fmt.Fprintln(o.Log, "starting etcd and kube-apiserver")
	if c.RestConfig, err = c.Env.Start(); err != nil {
		return nil, fmt.Errorf("starting control plane: %w", err)
	}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	if c.Client, err = client.New(c.RestConfig, client.Options{}); err != nil {
		return nil, err
	}
	for _, ns := range []string{"default", "kube-system"} {
		if err := c.DefaultServiceAccount(ctx, ns); err != nil {
			return nil, err
		}
	}
	admin, err := c.Env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return nil, err
	}
	c.Kubeconfig = filepath.Join(o.Dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}
	if o.ReadOnlyRoot {
		c.roexec = filepath.Join(o.Dir, "roexec")
		build := exec.CommandContext(ctx, "go", "build", "-o", c.roexec, "github.com/microguard/microguard/test/rofs/roexec")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building roexec: %w\n%s", err, out)
		}
	}
	if err := c.startMicroguard(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) startMicroguard(ctx context.Context) error {
	wo := c.Env.WebhookInstallOptions
	var extra []string
	if c.opts.DecisionLog != "" {
		extra = append(extra, "--decision-log", c.opts.DecisionLog)
	}
	extra = append(extra, c.opts.ExtraArgs...)
	p, err := c.serve(ctx, Extra{Port: wo.LocalServingPort, Log: "microguard.log", Binary: c.opts.Microguard}, extra...)
	if err != nil {
		return err
	}
	c.proc, c.exited, c.MicroguardLog = p.Cmd, p.exited, p.Log
	c.HealthURL, c.MetricsURL, c.WebhookURL = p.HealthURL, p.MetricsURL, p.WebhookURL
	c.CertDir = wo.LocalServingCertDir
	return nil
}

// Pid is the process id of the cluster's microguard.
func (c *Cluster) Pid() int { return c.proc.Process.Pid }

// Process is a microguard serving process.
type Process struct {
	Cmd                               *exec.Cmd
	Log                               string
	HealthURL, MetricsURL, WebhookURL string
	exited                            chan error
	done                              chan struct{} // closed once the process has ended
}

// Exited yields the process's exit error once it has ended.
func (p *Process) Exited() <-chan error { return p.exited }

// Done is closed once the process has ended (however often it is read,
// unlike Exited).
func (p *Process) Done() <-chan struct{} { return p.done }

// DefaultServiceAccount makes namespace ns's "default" service account, as
// a cluster's controller does (the API server's ServiceAccount admission
// refuses pods without it), unless it exists. It waits up to 30 s for ns
// itself (the API server makes its own namespaces just after it starts).
func (c *Cluster) DefaultServiceAccount(ctx context.Context, ns string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			return fmt.Errorf("service account default in %s: %w", ns, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FreePort is a loopback port nobody listens on (for StartExtra).
func FreePort() (int, error) {
	ports, err := loopbackPorts.pick(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// Extra is another microguard to start against the cluster (StartExtra).
type Extra struct {
	Port int
	// Log is its log file's name in the cluster's directory.
	Log string
	// Env are more environment variables (KEY=value), e.g. POD_NAME to
	// name a decision log replica.
	Env []string
	// Binary is another microguard binary, e.g. one built from another
	// commit to compare the two ("": the cluster's).
	Binary string
}

// StartExtra starts another microguard against the cluster, on e.Port with
// the cluster's serving certificate and config and then args (it is not
// registered as a webhook: tests call it directly), and waits until it is
// ready.
func (c *Cluster) StartExtra(ctx context.Context, e Extra, args ...string) (*Process, error) {
	if e.Binary == "" {
		e.Binary = c.opts.Microguard
	}
	return c.serve(ctx, e, args...)
}

func (c *Cluster) serve(ctx context.Context, e Extra, extra ...string) (*Process, error) {
	wo := c.Env.WebhookInstallOptions
	// The webhook's port may be free right now (a restart on it, or
	// envtest's, which the picker did not hand out).
	ports, err := loopbackPorts.pick(2, e.Port)
	if err != nil {
		return nil, err
	}
	health, metrics := ports[0], ports[1]
	args := []string{"serve",
		"--cert-dir", wo.LocalServingCertDir,
		"--port", strconv.Itoa(e.Port),
		"--health-port", strconv.Itoa(health),
		"--metrics-port", strconv.Itoa(metrics),
		"--kubeconfig", c.Kubeconfig,
	}
	if c.opts.Config != "" {
		args = append(args, "--config", c.opts.Config)
	}
	args = append(args, extra...)
	p := &Process{Log: filepath.Join(c.opts.Dir, e.Log)}
	logf, err := os.Create(p.Log)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c.opts.Log, "starting microguard on https://127.0.0.1:%d (log: %s)\n", e.Port, p.Log)
	if p.Cmd, err = c.command(e.Binary, args); err != nil {
		logf.Close()
		return nil, err
	}
	p.Cmd.Stdout, p.Cmd.Stderr = logf, logf
	if len(e.Env) > 0 {
		p.Cmd.Env = append(os.Environ(), e.Env...)
	}
	if err := p.Cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting microguard: %w", err)
	}
	p.exited = make(chan error, 1)
	p.done = make(chan struct{})
	go func() { p.exited <- p.Cmd.Wait(); logf.Close(); close(p.done) }()
	c.mu.Lock()
	c.extras = append(c.extras, p)
	c.mu.Unlock()
	p.HealthURL = fmt.Sprintf("http://127.0.0.1:%d", health)
	p.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d", metrics)
	p.WebhookURL = fmt.Sprintf("https://127.0.0.1:%d", e.Port)
	return p, waitReady(ctx, p, 60*time.Second)
}

// command runs microguard: the binary itself, or with ReadOnlyRoot through
// roexec, which leaves writable only the directories its --cert-dir and
// --decision-log name (made first: the pod's volumes exist before it
// starts).
func (c *Cluster) command(bin string, args []string) (*exec.Cmd, error) {
	if c.roexec == "" {
		return exec.Command(bin, args...), nil
	}
	attr, err := rofs.Attr()
	if err != nil {
		return nil, err
	}
	var pre []string
	for _, d := range volumes(args) {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, err
		}
		pre = append(pre, "-w", d)
	}
	cmd := exec.Command(c.roexec, slices.Concat(pre, []string{"--", bin}, args)...)
	cmd.SysProcAttr = attr
	return cmd, nil
}

// volumes are the directories where the chart mounts a volume for the
// flags in args: --cert-dir, and --decision-log's directory (itself when it
// is one; none for PostgreSQL).
func volumes(args []string) []string {
	var dirs []string
	for i, a := range args {
		name, v, ok := strings.Cut(a, "=")
		if !ok {
			if i+1 == len(args) {
				break
			}
			v = args[i+1]
		}
		switch name {
		case "--cert-dir":
			dirs = append(dirs, v)
		case "--decision-log":
			if v == "" || decisionlog.IsPostgres(v) {
				continue
			}
			if st, err := os.Stat(v); err != nil || !st.IsDir() {
				v = filepath.Dir(v)
			}
			dirs = append(dirs, v)
		}
	}
	return dirs
}

// TokenVolume reports, as an error, a pod without what the API server's
// ServiceAccount admission adds, here as in a real cluster: a projected volume
// kube-api-access-<random> and a mount of it in every container.
func TokenVolume(p *corev1.Pod) error {
	name := ""
	for _, v := range p.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") && v.Projected != nil {
			name = v.Name
		}
	}
	if name == "" {
		return errors.New("no kube-api-access-* volume: is the API server's ServiceAccount admission plugin on?")
	}
	for _, c := range p.Spec.Containers {
		if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == name }) {
			return fmt.Errorf("container %q does not mount %s", c.Name, name)
		}
	}
	return nil
}

func waitReady(ctx context.Context, p *Process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case err := <-p.exited:
			p.exited <- err
			log, _ := os.ReadFile(p.Log)
			return fmt.Errorf("microguard exited before it was ready (%v):\n%s", err, log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := http.Get(p.HealthURL + "/readyz?verbose")
		if err != nil {
			last = err.Error()
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = fmt.Sprintf("%s: %s", resp.Status, body)
	}
	log, _ := os.ReadFile(p.Log)
	return fmt.Errorf("microguard not ready after %s (/readyz: %s); its log:\n%s", timeout, last, log)
}

// Kubectl runs the real kubectl against the cluster.
func (c *Cluster) Kubectl(ctx context.Context, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.opts.K8sBin, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// Stop ends microguard (SIGTERM) and the control plane.
func (c *Cluster) Stop() error {
	var errs []error
	// Extra servers a test left running would keep their watches on the
	// API server open and hold up its stop.
	c.mu.Lock()
	extras := c.extras
	c.mu.Unlock()
	for _, p := range extras {
		if p.Cmd == c.proc {
			continue // the cluster's own microguard: SIGTERM below
		}
		select {
		case <-p.done:
			continue
		default:
		}
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
	if c.proc != nil && c.proc.Process != nil {
		_ = c.proc.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(20 * time.Second):
			_ = c.proc.Process.Kill()
			errs = append(errs, errors.New("microguard did not stop within 20s of SIGTERM"))
		}
	}
	if err := c.Env.Stop(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// portPicker hands out ports nobody listens on: distinct, none of those it
// is told to leave out, and none it handed out before. A port handed out is
// free until its server binds it, and a cluster's servers start one after
// the other (a microguard restarted on its webhook port, the load tool's
// registry, floor and pprof ports), so the kernel could otherwise give one
// out twice.
type portPicker struct {
	// listen binds a port the kernel chooses; the picker holds each until
	// it has found them all.
	listen func() (net.Listener, error)
	mu     sync.Mutex
	given  map[int]bool
}

var loopbackPorts = &portPicker{
	listen: func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") },
	given:  map[int]bool{},
}

func (pp *portPicker) pick(n int, but ...int) ([]int, error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	var ports []int
	for len(ports) < n {
		if len(held) > n+1000 {
			return nil, fmt.Errorf("no %d free ports in %d tries", n, len(held))
		}
		l, err := pp.listen()
		if err != nil {
			return nil, err
		}
		held = append(held, l)
		if p := l.Addr().(*net.TCPAddr).Port; !pp.given[p] && !slices.Contains(but, p) && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	for _, p := range ports {
		pp.given[p] = true
	}
	return ports, nil
}

// RSSMiB is the resident set of process pid, in MiB (from /proc).
func RSSMiB(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// CPUSeconds is the CPU time (user and system) process pid has used.
func CPUSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): utime and stime are the 12th and 13th of them.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (u + st) / 100, nil // USER_HZ
}
