// Package server serves microguard's admission webhooks over HTTPS on
// controller-runtime's webhook server, with health, readiness and metrics
// endpoints and a namespace cache.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/microguard/microguard/pkg/review"
)

// The webhook paths.
const (
	MutatePath   = "/mutate"
	ValidatePath = "/validate"
)

// Options say where to listen and where things are.
type Options struct {
	Host        string // "" listens on every address
	Port        int    // HTTPS webhook port
	HealthPort  int    // plain HTTP /healthz and /readyz
	MetricsPort int    // plain HTTP /metrics
	PprofPort   int    // plain HTTP /debug/pprof (0: off)
	CertDir     string // holds tls.crt and tls.key, reloaded when they change
	// ShutdownTimeout bounds how long in-flight reviews may take to finish
	// after SIGTERM.
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long the webhook keeps serving after SIGTERM,
	// with readiness already failing, before it stops accepting.
	ShutdownDelay time.Duration
	// Recorder stores a decision record per answer (nil: no decision log).
	Recorder *Recorder
	// Metrics count and time the answers (nil: none).
	Metrics *Metrics
	// Certificates keeps the serving certificate fresh while the server
	// runs, and is ready once it exists (nil: the files in CertDir come
	// from elsewhere, e.g. cert-manager).
	Certificates Certificates
	// ClientCAs, when set, make the webhook require a client certificate
	// signed by one of them (--client-ca; see LoadClientCAs).
	ClientCAs *x509.CertPool
	// APIHealth, when set, probes the API server and says in its metrics
	// whether the caches are following it (nil: no probe).
	APIHealth *APIHealth
}

// Certificates is what the server needs of a certificate keeper.
type Certificates interface {
	Start(ctx context.Context) error
	Ready(*http.Request) error
}

// Server is a configured, not yet started, webhook server.
type Server struct {
	mgr manager.Manager
	sd  *shutdown
	ns  *namespaceCache
	sc  *storageClassCache
	rv  *reviewers
}

// New builds the server. newReviewer is called with the namespace cache the
// server keeps.
func New(cfg *rest.Config, o Options, log logr.Logger, newReviewer func(review.Namespaces) (*review.Reviewer, error)) (*Server, error) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	timeout := o.ShutdownTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	wh := webhook.NewServer(webhook.Options{
		Host:    o.Host,
		Port:    o.Port,
		CertDir: o.CertDir,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			c.MinVersion = tls.VersionTLS12
			c.NextProtos = []string{"http/1.1"} // HTTP/2 off (CVE-2023-44487, CVE-2023-39325)
		}, requireClientCert(o.ClientCAs)},
	})
	sd := &shutdown{delay: o.ShutdownDelay, log: log}
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                  scheme,
		Logger:                  log,
		Metrics:                 metricsserver.Options{BindAddress: addr(o.Host, o.MetricsPort)},
		HealthProbeBindAddress:  addr(o.Host, o.HealthPort),
		PprofBindAddress:        pprofAddr(o.Host, o.PprofPort),
		WebhookServer:           &drainingServer{Server: wh, sd: sd},
		GracefulShutdownTimeout: &timeout,
		// The caches hold namespaces' and storage classes' metadata, read
		// (and deep-copied) on every request: without their managed
		// fields, which nothing here reads.
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	nsMeta, err := newMetaCache(mgr, "namespaces", namespaceGVK)
	if err != nil {
		return nil, err
	}
	scMeta, err := newMetaCache(mgr, "storage classes", storageClassGVK)
	if err != nil {
		return nil, err
	}
	ns, sc := &namespaceCache{nsMeta}, &storageClassCache{scMeta}
	rv, err := newReviewer(ns)
	if err != nil {
		return nil, err
	}
	rv.WithStorageClasses(sc)
	rvs := newReviewers(rv)
	// GetWebhookServer adds the server to the manager's runnables.
	wh = mgr.GetWebhookServer()
	wlog := log.WithName("webhook")
	wh.Register(ValidatePath, webhookHandler(validator{rv: rvs, log: wlog, rec: o.Recorder, metrics: o.Metrics}))
	wh.Register(MutatePath, webhookHandler(mutator{rv: rvs, log: wlog, rec: o.Recorder, metrics: o.Metrics}))
	if err := mgr.AddHealthzCheck("ping", func(*http.Request) error { return nil }); err != nil {
		return nil, err
	}
	checks := map[string]func(*http.Request) error{
		"webhook":        wh.StartedChecker(),
		"namespaces":     ns.ready,
		"storageclasses": sc.ready,
		"shutdown":       sd.ready,
		// No check on the API server: the caches keep deciding while it is
		// away, and APIHealth says so in a metric (see APIHealth).
	}
	if o.APIHealth != nil {
		if err := o.APIHealth.start(mgr, log.WithName("apiserver")); err != nil {
			return nil, err
		}
	}
	if o.Certificates != nil {
		checks["certificates"] = o.Certificates.Ready
		if err := mgr.Add(manager.RunnableFunc(o.Certificates.Start)); err != nil {
			return nil, err
		}
	}
	for name, check := range checks {
		if err := mgr.AddReadyzCheck(name, check); err != nil {
			return nil, err
		}
	}
	return &Server{mgr: mgr, sd: sd, ns: ns, sc: sc, rv: rvs}, nil
}

// Run serves until ctx is done, then finishes in-flight reviews and returns.
func (s *Server) Run(ctx context.Context) error {
	return s.sd.run(ctx, s.mgr.Start)
}

// pprofAddr is where profiles are served, "" (off) for port 0.
func pprofAddr(host string, port int) string {
	if port == 0 {
		return ""
	}
	return addr(host, port)
}

func addr(host string, port int) string {
	if port < 0 {
		return "0" // disabled
	}
	return fmt.Sprintf("%s:%d", host, port)
}

// postOnly refuses anything but POST with 405 before the review is read.
func postOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "admission reviews are POSTed", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// withCallerDeadline bounds the request's context by the timeout the API
// server gives in the URL (?timeout=5s, its webhook timeoutSeconds), less a
// tenth to write the answer: work that would outlast it (a slow registry)
// is cut short and answered with a clear message, instead of the API
// server giving up first with a bare "context deadline exceeded".
//
// The body must arrive within the same bound (maxReviewTime without a
// timeout in the URL): a caller that sends the headers and then trickles
// the body would otherwise hold a connection and a goroutine for as long as
// it likes, as the webhook server bounds only the headers.
func withCallerDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bound := maxReviewTime
		if d, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && d > 0 {
			bound = d - d/10
			ctx, cancel := context.WithTimeout(r.Context(), bound)
			defer cancel()
			r = r.WithContext(ctx)
		}
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bound))
		h.ServeHTTP(w, r)
	})
}

// maxReviewTime bounds reading a review whose URL gives no timeout: the
// API server's longest webhook timeout (30 s).
const maxReviewTime = 30 * time.Second

var _ admission.Handler = validator{}
