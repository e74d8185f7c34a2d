package chart

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// notes renders templates/NOTES.txt, which helm template leaves out: a copy
// of the chart renders it through tpl into a ConfigMap-free document.
func notes(t *testing.T, args ...string) string {
	t.Helper()
	src := chartDir(t)
	dst := filepath.Join(t.TempDir(), "microguard")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dst, "templates", "NOTES.txt"), filepath.Join(dst, "notes.txt")); err != nil {
		t.Fatal(err)
	}
	tmpl := `notes: {{ tpl (.Files.Get "notes.txt") . | toJson }}` + "\n"
	if err := os.WriteFile(filepath.Join(dst, "templates", "zz-notes.yaml"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := helmTemplate(t, dst, namespace, append(args, "--show-only", "templates/zz-notes.yaml")...)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Notes string }
	if err := yaml.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(out), "---")), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return doc.Notes
}

// TestNotesTellHowToCheck: NOTES.txt gives the admin commands to see that
// microguard works: rollout, caBundle, and a kubectl run that is denied with
// a hint.
func TestNotesTellHowToCheck(t *testing.T) {
	n := notes(t)
	for _, want := range []string{
		"kubectl -n microguard rollout status statefulset/microguard",
		"kubectl get validatingwebhookconfiguration microguard",
		"kubectl -n microguard-smoke run smoke --image=busybox:1.36 --restart=Never --dry-run=server",
		`admission webhook "validate.microguard.io" denied the request`,
		"[owner-labels/missing-label]",
		"Fix: add owner:",
		"failurePolicy",
	} {
		if !strings.Contains(n, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, n)
		}
	}
	if strings.Contains(n, "WARNING") {
		t.Errorf("warning with the default values:\n%s", n)
	}

	n = notes(t, "-f", filepath.Join(chartDir(t), "ci", "ephemeral-values.yaml"))
	for _, want := range []string{"WARNING: replicaCount is 1", "LOST", "not set to deny"} {
		if !strings.Contains(n, want) {
			t.Errorf("NOTES.txt for ephemeral-values.yaml lacks %q:\n%s", want, n)
		}
	}
	if n := notes(t, "-f", filepath.Join(chartDir(t), "ci", "postgres-values.yaml")); !strings.Contains(n, "rollout status deployment/microguard") {
		t.Errorf("NOTES.txt for a Deployment:\n%s", n)
	}
}
