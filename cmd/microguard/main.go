// Command microguard is the admission webhook (serve), its offline twin for
// CI pipelines (check), and version. It only wires packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/microguard/microguard/pkg/check"
	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/pkg/exception"
	"github.com/microguard/microguard/pkg/manifest"
	"github.com/microguard/microguard/pkg/policy"
	"github.com/microguard/microguard/pkg/reload"
	"github.com/microguard/microguard/pkg/review"
	"github.com/microguard/microguard/pkg/server"
	"github.com/microguard/microguard/pkg/tracing"
	"github.com/microguard/microguard/pkg/verify"
	"github.com/microguard/microguard/policies"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries an exit code out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case err != nil:
		fmt.Fprintln(stderr, "microguard:", err)
		return check.ExitError
	}
	return 0
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "microguard",
		Short:         "Admission webhook that hardens micro apps for production",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\n%s", err, c.UsageString())
	})
	root.AddCommand(newServe(), newCheck(stdin, stdout, stderr), newPolicy(stdout), newDecisions(stdout), &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(c *cobra.Command, _ []string) {
			fmt.Fprintln(c.OutOrStdout(), "microguard", version)
		},
	})
	return root
}

func newServe() *cobra.Command {
	var o server.Options
	var configPath, kubeconfig, decisionLog, certSecret, injectInto, clientCA string
	var reloadInterval time.Duration
	var certDNSNames []string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the /mutate and /validate admission webhooks over HTTPS",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			log := zap.New(zap.JSONEncoder()).WithValues("version", version)
			ctrl.SetLogger(log)
			setGC(log)
			shutdownTracing, err := tracing.Setup(c.Context(), log.WithName("tracing"), version)
			if err != nil {
				return fmt.Errorf("tracing: %w", err)
			}
			defer func() {
				// c.Context() is done by now: flush the last spans on a
				// context of their own.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := shutdownTracing(ctx); err != nil {
					log.Error(err, "spans not exported at shutdown")
				}
			}()
			if clientCA != "" {
				if o.ClientCAs, err = server.LoadClientCAs(clientCA); err != nil {
					return fmt.Errorf("--client-ca: %w", err)
				}
			}
			// A bad config is reported before a missing cluster.
			cfg, clusterErr := restConfig(kubeconfig)
			var client kubernetes.Interface
			if clusterErr == nil {
				cs, err := kubernetes.NewForConfig(cfg)
				if err != nil {
					return fmt.Errorf("cluster client: %w", err)
				}
				client = cs
			}
			verifyMetrics := verify.NewMetrics()
			prepare := func(ctx context.Context) (*review.Setup, error) {
				return review.PrepareWith(ctx, policies.FS, review.Options{
					Config: configPath,
					Verify: verify.Options{Client: client, Log: log.WithName("verify"), Metrics: verifyMetrics},
				})
			}
			cur, reloadMetrics := &serving{}, reload.NewMetrics()
			var srv *server.Server
			var watcher *reload.Watcher
			if configPath != "" && reloadInterval > 0 {
				watcher = watchConfig(configPath, reloadInterval, cur, &srv, &o, prepare, log.WithName("reload"), reloadMetrics)
				if err := watcher.Start(); err != nil {
					return fmt.Errorf("reading config: %w", err)
				}
			}
			setup, err := prepare(c.Context())
			if err != nil {
				return err
			}
			cur.p.Store(setup)
			reloadMetrics.Loaded(time.Now())
			ctrlmetrics.Registry.MustRegister(reloadMetrics.Collectors()...)
			if clusterErr != nil {
				return clusterErr
			}
			for _, w := range setup.Config.Warnings {
				log.Info("config warning", "warning", w)
			}
			ctrlmetrics.Registry.MustRegister(exception.Collectors(cur.exceptions, time.Now)...)
			ctrlmetrics.Registry.MustRegister(verifyMetrics.Collectors()...)
			o.Metrics = server.NewMetrics()
			o.Metrics.SetBuildInfo(version, setup.Bundle.Revision(), setup.Config.Digest)
			o.Metrics.Instrument(setup.Engine, log)
			ctrlmetrics.Registry.MustRegister(o.Metrics.Collectors()...)
			o.APIHealth = server.NewAPIHealth()
			ctrlmetrics.Registry.MustRegister(o.APIHealth.Collectors()...)
			if decisionLog != "" {
				dlMetrics := decisionlog.NewMetrics()
				ctrlmetrics.Registry.MustRegister(dlMetrics.Collectors()...)
				if o.Recorder, err = openRecorder(c.Context(), decisionLog, setup.Config, setup.Bundle.Revision(), log.WithName("decisionlog"), dlMetrics); err != nil {
					return err
				}
				// After the server stops: every answer given has its record,
				// and Close checkpoints the head of the chain.
				defer func() {
					if err := o.Recorder.Log.Close(); err != nil {
						log.Error(err, "decision log not closed cleanly")
						return
					}
					log.Info("decision log flushed and closed")
				}()
				ctrlmetrics.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
					Name: "microguard_decision_log_queue_depth", Help: "Decision records waiting for the next group commit.",
				}, func() float64 { return float64(o.Recorder.Log.QueueDepth()) }))
				log.Info("decision log", "store", o.Recorder.Log.Store().Target(), "onFailure", setup.Config.DecisionLog.OnFailure)
			} else {
				log.Info("no --decision-log: admission answers are not recorded")
			}
			if certSecret != "" {
				keeper, err := newCertificates(client, certSecret, certDNSNames, o.CertDir, injectInto, log.WithName("certificates"))
				if err != nil {
					return err
				}
				// The webhook server reads the files at start: have them first.
				if err := keeper.EnsureUntilReady(c.Context()); err != nil {
					return err
				}
				o.Certificates = keeper
			}
			srv, err = server.New(cfg, o, log, func(ns review.Namespaces) (*review.Reviewer, error) {
				return setup.Reviewer(ns, log.WithName("review")), nil
			})
			if err != nil {
				return err
			}
			if watcher != nil {
				go watcher.Run(c.Context())
			}
			log.Info("serving", "port", o.Port, "bundle", setup.Bundle.Revision(), "config", setup.Config.Digest, "evaluator", setup.Engine.Evaluator())
			return srv.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&configPath, "config", "", "microguard config file (default: built-in defaults)")
	f.DurationVar(&reloadInterval, "reload-interval", 10*time.Second, "how often the config file and its custom policy directory are checked for changes, applied without a restart (0: never)")
	f.StringVar(&o.CertDir, "cert-dir", "", "directory with tls.crt and tls.key, reloaded when they change")
	f.IntVar(&o.Port, "port", 9443, "HTTPS port of the admission webhooks")
	f.IntVar(&o.HealthPort, "health-port", 8081, "plain HTTP port of /healthz and /readyz")
	f.IntVar(&o.MetricsPort, "metrics-port", 8080, "plain HTTP port of /metrics")
	f.IntVar(&o.PprofPort, "pprof-port", 0, "plain HTTP port of /debug/pprof (default 0: off)")
	f.DurationVar(&o.ShutdownDelay, "shutdown-delay", 0, "after SIGTERM, how long to keep serving with readiness failing before the webhook stops accepting (default 0: the chart's preStop sleep keeps it serving while endpoints are updated)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, else $KUBECONFIG)")
	f.StringVar(&decisionLog, "decision-log", "", "where every admission answer is recorded: a SQLite file or directory, or a postgres:// DSN (default: not recorded)")
	f.StringVar(&certSecret, "cert-secret", "", "NAMESPACE/NAME of a Secret where microguard keeps its own CA and serving certificate, created and rotated, and written to --cert-dir (default: --cert-dir is filled by someone else, e.g. cert-manager)")
	f.StringSliceVar(&certDNSNames, "cert-dns-names", nil, "DNS names of the serving certificate (with --cert-secret), e.g. microguard.microguard.svc")
	f.StringVar(&injectInto, "inject-ca-into", "", "name of the mutating and validating webhook configurations whose caBundle microguard keeps in step (with --cert-secret)")
	f.StringVar(&clientCA, "client-ca", "", "PEM bundle of CAs: the webhook then requires a client certificate signed by one of them (default: none asked for)")
	_ = c.MarkFlagRequired("cert-dir")
	return c
}

// gcPercent is serve's GOGC when the environment sets none. A webhook
// allocates per request and keeps little, so Go's default (100) collects
// often: 400 took a quarter more reviews a second on 2 cores (BENCHMARKS.md)
// for about 30 MiB more RSS. GOMEMLIMIT (the chart sets it to the
// container's memory limit) still makes the collector work harder before
// memory runs out.
const gcPercent = 400

func setGC(log logr.Logger) {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(gcPercent)
	log.V(1).Info("GOGC not set: collecting garbage at 400% heap growth", "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
}

// restConfig finds the cluster: --kubeconfig, else in-cluster, else
// KUBECONFIG. Reads on the admission path (pull secrets, namespaces the
// informer has not seen) must not queue behind client-go's default limit of
// 5 requests a second, so the client may make 50 (bursts of 100).
func restConfig(kubeconfig string) (*rest.Config, error) {
	cfg, err := findCluster(kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

func findCluster(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if cfg, err := rest.InClusterConfig(); err == nil {
		return cfg, nil
	}
	if env := os.Getenv("KUBECONFIG"); env != "" {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	}
	return nil, errors.New("no cluster: pass --kubeconfig, run in a pod, or set KUBECONFIG")
}

func newCheck(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var configPath, output, policyDir string
	var files []string
	c := &cobra.Command{
		Use:   "check -f PATH... [--config FILE] [-o text|json]",
		Short: "Decide manifests offline, as the webhook would (exit 0 admitted, 1 denied, 2 unreadable)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if output != "text" && output != "json" && output != "yaml" {
				return fmt.Errorf("-o must be text, json or yaml, not %q", output)
			}
			if len(files) == 0 {
				return errors.New("no input: pass -f PATH (a file, a directory or - for stdin)")
			}
			setup, err := review.PrepareWith(c.Context(), policies.FS, review.Options{Config: configPath, Policies: policyDir})
			if err != nil {
				return err
			}
			objs, err := manifest.ReadPaths(files, stdin)
			if err != nil {
				return err
			}
			nop := ctrl.Log.WithName("check")
			rep, err := check.Objects(c.Context(), func(ns review.Namespaces) *review.Reviewer { return setup.Reviewer(ns, nop) }, objs)
			if err != nil {
				return err
			}
			switch output {
			case "json":
				err = rep.WriteJSON(stdout)
			case "yaml":
				err = rep.WriteYAML(stdout)
			default:
				err = rep.WriteText(stdout, check.Style{Color: isTerminal(stdout)})
			}
			if err != nil {
				return err
			}
			if rep.Denied() {
				return exitError{check.ExitDenied}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&configPath, "config", "", "microguard config file (default: built-in defaults)")
	f.StringVarP(&output, "output", "o", "text", "output format: text, json, or yaml (the objects as mutated)")
	f.StringArrayVarP(&files, "filename", "f", nil, "manifest file, directory (recursive) or - for stdin; repeatable")
	f.StringVar(&policyDir, "policies", "", "directory of custom Rego policies (default: the config's customPolicies)")
	return c
}

func newPolicy(stdout io.Writer) *cobra.Command {
	c := &cobra.Command{Use: "policy", Short: "Work with custom Rego policies"}
	c.AddCommand(&cobra.Command{
		Use:   "test DIR",
		Short: "Load DIR next to the embedded bundle, check the contract and run every _test.rego (exit 0 pass, 1 fail, 2 unloadable)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if st, err := os.Stat(args[0]); err != nil || !st.IsDir() {
				return fmt.Errorf("%s is not a directory", args[0])
			}
			b, err := policy.LoadBundle(policies.FS, policy.Source{Name: review.CustomSource, FS: os.DirFS(args[0])})
			if err != nil {
				return err
			}
			results, err := b.Test(c.Context())
			if err != nil {
				return err
			}
			failed := 0
			for _, r := range results {
				switch {
				case r.Error != "":
					failed++
					fmt.Fprintf(stdout, "ERROR %s %s: %s\n", r.Location, r.Name, r.Error)
				case !r.Passed:
					failed++
					fmt.Fprintf(stdout, "FAIL  %s %s\n", r.Location, r.Name)
				}
			}
			fmt.Fprintf(stdout, "%d passed, %d failed\n", len(results)-failed, failed)
			if failed > 0 {
				return exitError{check.ExitDenied}
			}
			return nil
		},
	})
	return c
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
