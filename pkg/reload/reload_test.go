package reload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The watcher applies each changed version once: a refused one is counted
// and not retried until the files change again, and the next good one is
// applied.
func TestCheckAppliesChangedContentOnce(t *testing.T) {
	dir := t.TempDir()
	cfg, pol := filepath.Join(dir, "config.yaml"), filepath.Join(dir, "policies")
	write(t, cfg, "version: 1\n")
	write(t, filepath.Join(pol, "a", "a.rego"), "package a\n")
	var applied []string
	m := NewMetrics()
	w := &Watcher{
		Paths: func() []string { return []string{cfg, pol} },
		Apply: func(context.Context) error {
			data, _ := os.ReadFile(cfg)
			if string(data) == "bad\n" {
				return errors.New("config.yaml:1: bad")
			}
			applied = append(applied, string(data))
			return nil
		},
		Log: logr.Discard(), Metrics: m,
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	step := func(name string, wantTried, wantErr bool) {
		t.Helper()
		tried, err := w.Check(ctx)
		if tried != wantTried || (err != nil) != wantErr {
			t.Fatalf("%s: tried %v, err %v; want tried %v, error %v", name, tried, err, wantTried, wantErr)
		}
	}
	step("unchanged", false, false)
	write(t, cfg, "version: 2\n")
	step("config changed", true, false)
	step("unchanged again", false, false)
	write(t, filepath.Join(pol, "b", "b.rego"), "package b\n")
	step("policy added", true, false)
	write(t, cfg, "bad\n")
	step("bad config", true, true)
	if got := testutil.ToFloat64(m.failing); got != 1 {
		t.Errorf("failing gauge %v while the bad config is on disk", got)
	}
	step("bad config not retried", false, false)
	write(t, cfg, "version: 3\n")
	step("fixed", true, false)
	if got := testutil.ToFloat64(m.failing); got != 0 {
		t.Errorf("failing gauge %v after a good config", got)
	}
	if ok, bad := testutil.ToFloat64(m.reloads.WithLabelValues("success")), testutil.ToFloat64(m.reloads.WithLabelValues("error")); ok != 3 || bad != 1 {
		t.Errorf("reloads: %v success, %v error; want 3 and 1", ok, bad)
	}
	if want := []string{"version: 2\n", "version: 2\n", "version: 3\n"}; len(applied) != 3 || applied[0] != want[0] || applied[2] != want[2] {
		t.Errorf("applied %q, want %q", applied, want)
	}
}

func TestDigest(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	write(t, filepath.Join(a, "x.rego"), "1")
	d1, err := Digest([]string{a, filepath.Join(dir, "missing")})
	if err != nil {
		t.Fatal(err)
	}
	// Same content under another name is another version.
	if err := os.Rename(filepath.Join(a, "x.rego"), filepath.Join(a, "y.rego")); err != nil {
		t.Fatal(err)
	}
	d2, _ := Digest([]string{a, filepath.Join(dir, "missing")})
	// A missing path that appears is a change too.
	write(t, filepath.Join(dir, "missing"), "")
	d3, _ := Digest([]string{a, filepath.Join(dir, "missing")})
	if d1 == d2 || d2 == d3 || d1 == d3 {
		t.Errorf("digests do not tell the versions apart: %s %s %s", d1, d2, d3)
	}
	// A symlinked file (as Kubernetes mounts a ConfigMap) is read through.
	write(t, filepath.Join(dir, "data", "c.yaml"), "v1")
	if err := os.Symlink(filepath.Join(dir, "data", "c.yaml"), filepath.Join(a, "c.yaml")); err != nil {
		t.Fatal(err)
	}
	e1, _ := Digest([]string{a})
	write(t, filepath.Join(dir, "data", "c.yaml"), "v2")
	e2, _ := Digest([]string{a})
	if e1 == e2 {
		t.Error("a change behind a symlink was not seen")
	}
}
