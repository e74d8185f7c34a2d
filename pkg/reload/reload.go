// Package reload applies a changed configuration file or custom policy
// directory while microguard serves: it polls their content and, when it
// changed, hands over to an Apply function that builds and swaps in the new
// decision setup. A version that Apply refuses (a bad key, a policy that
// does not compile or fails its tests) is logged with its cause and
// counted, and the last good one keeps serving.
package reload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// Watcher polls Paths every Interval and calls Apply when their content
// changed.
type Watcher struct {
	// Paths are the files and directories to watch (directories: every
	// regular file below, by relative name and content). It is asked on
	// every poll, as a new config may name another policy directory.
	Paths    func() []string
	Interval time.Duration
	// Apply builds the new setup from the files and swaps it in; an error
	// leaves the running setup as it is.
	Apply   func(ctx context.Context) error
	Log     logr.Logger
	Metrics *Metrics

	seen string // digest of the content last applied or refused
}

// Metrics count reloads.
type Metrics struct {
	reloads     *prometheus.CounterVec
	failing     prometheus.Gauge
	lastSuccess prometheus.Gauge
}

// NewMetrics makes the reload metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "microguard_config_reloads_total",
			Help: "Changed configurations or policy directories seen, by result (success: serving it; error: refused, the last good one serves).",
		}, []string{"result"}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "microguard_config_reload_failing",
			Help: "1 while the configuration or policy files on disk are refused and an older version serves.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "microguard_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration serving now was loaded (start or reload), as a Unix time.",
		}),
	}
}

// Collectors are the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.reloads, m.failing, m.lastSuccess}
}

// Loaded records that a configuration was loaded now (at start).
func (m *Metrics) Loaded(now time.Time) {
	if m != nil {
		m.lastSuccess.Set(float64(now.Unix()))
	}
}

func (m *Metrics) result(err error, now time.Time) {
	if m == nil {
		return
	}
	if err != nil {
		m.reloads.WithLabelValues("error").Inc()
		m.failing.Set(1)
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.failing.Set(0)
	m.lastSuccess.Set(float64(now.Unix()))
}

// Start takes the digest of what is on disk now, as the version the
// process started with.
func (w *Watcher) Start() error {
	d, err := Digest(w.Paths())
	if err != nil {
		return err
	}
	w.seen = d
	return nil
}

// Run polls until ctx is done.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Check(ctx)
		}
	}
}

// Check applies the files once if their content changed since the last
// version applied or refused, and reports whether it tried.
func (w *Watcher) Check(ctx context.Context) (tried bool, err error) {
	paths := w.Paths()
	d, err := Digest(paths)
	if err != nil {
		// A file caught half-written, or removed: the next poll sees more.
		w.Log.V(1).Info("configuration files not readable yet", "error", err.Error())
		return false, nil
	}
	if d == w.seen {
		return false, nil
	}
	w.seen = d
	err = w.Apply(ctx)
	w.Metrics.result(err, time.Now())
	if err != nil {
		w.Log.Error(err, "configuration change refused: the previous configuration keeps serving", "paths", paths)
		return true, err
	}
	w.Log.Info("configuration reloaded", "paths", paths)
	return true, nil
}

// Digest is a SHA-256 over the content of paths: a file's bytes, every
// regular file below a directory by relative name, and a marker for a
// path that does not exist.
func Digest(paths []string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "path %q\n", p)
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			io.WriteString(h, "missing\n")
			continue
		case err != nil:
			return "", err
		case !st.IsDir():
			if err := hashFile(h, p); err != nil {
				return "", err
			}
			continue
		}
		var files []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			// Kubernetes mounts ConfigMaps through ..data symlinks: follow
			// what a regular read would.
			if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
				if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
					files = append(files, path)
				}
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		sort.Strings(files)
		for _, f := range files {
			rel, _ := filepath.Rel(p, f)
			fmt.Fprintf(h, "file %q\n", rel)
			if err := hashFile(h, f); err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, f)
	fmt.Fprintf(w, "\n%d bytes\n", n)
	return err
}
