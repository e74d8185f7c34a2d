package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesBadClientCAAtStart: a --client-ca that is missing, empty
// or not a PEM certificate bundle stops the start with an error naming the
// flag and the file, before any cluster is needed.
func TestServeRefusesBadClientCAAtStart(t *testing.T) {
	dir := t.TempDir()
	for name, path := range map[string]string{
		"missing": filepath.Join(dir, "absent.crt"),
		"empty":   write(t, dir, "empty.crt", ""),
		"not PEM": write(t, dir, "text.crt", "not a certificate\n"),
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(t, "", "serve", "--cert-dir", t.TempDir(), "--client-ca", path)
			if code != 2 || !strings.Contains(errOut, "--client-ca: ") || !strings.Contains(errOut, path) {
				t.Fatalf("exit %d, stderr %q; want exit 2 naming --client-ca and %s", code, errOut, path)
			}
		})
	}
}
