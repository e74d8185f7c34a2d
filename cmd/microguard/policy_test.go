package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyPolicy copies the example custom policy into a fresh directory.
func copyPolicy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"no_latest_tag.rego", "no_latest_tag_test.rego"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "examples", "policies", "no_latest_tag", f))
		if err != nil {
			t.Fatal(err)
		}
		write(t, dir, filepath.Join("no_latest_tag", f), string(data))
	}
	return dir
}

const latestPod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: where2eat, labels: {owner: ana}}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers: [{name: web, image: "registry.example/web:latest", securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]
`

func TestPolicyTest(t *testing.T) {
	dir := copyPolicy(t)
	code, out, errOut := runCLI(t, "", "policy", "test", dir)
	if code != 0 || !strings.Contains(out, " passed, 0 failed") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}

	// A failing test: exit 1, named by file and line.
	write(t, dir, "no_latest_tag/broken_test.rego", "package microguard.policies.no_latest_tag_test\n\ntest_wrong if {\n\t1 == 2\n}\n")
	code, out, _ = runCLI(t, "", "policy", "test", dir)
	if code != 1 || !strings.Contains(out, "FAIL  custom/no_latest_tag/broken_test.rego:3") {
		t.Fatalf("exit %d\n%s", code, out)
	}

	// The same directory is refused at start by check (and serve).
	code, _, errOut = runCLI(t, latestPod, "check", "--policies", dir, "-f", "-")
	if code != 2 || !strings.Contains(errOut, "custom/no_latest_tag/broken_test.rego:3") {
		t.Fatalf("check with failing policy tests: exit %d, %s", code, errOut)
	}
	cfg := write(t, t.TempDir(), "c.yaml", "customPolicies: "+dir+"\n")
	code, _, errOut = runCLI(t, "", "serve", "--cert-dir", t.TempDir(), "--config", cfg)
	if code != 2 || !strings.Contains(errOut, "policy tests failed") {
		t.Fatalf("serve with failing policy tests: exit %d, %s", code, errOut)
	}
}

func TestPolicyContractIsCheckedAtLoad(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "bad/bad.rego", "package microguard.policies.bad\n\nviolation contains {\"rule\": \"r\"} if true\n")
	code, _, errOut := runCLI(t, "", "policy", "test", dir)
	if code != 2 || !strings.Contains(errOut, "custom/bad/bad.rego:1:") || !strings.Contains(errOut, "no METADATA annotation") {
		t.Fatalf("exit %d, %s", code, errOut)
	}
}

func TestCheckUsesCustomPolicies(t *testing.T) {
	dir := copyPolicy(t)
	code, out, errOut := runCLI(t, latestPod, "check", "--policies", dir, "-f", "-")
	if code != 1 || !strings.Contains(out, "[no-latest-tag/latest-tag]") || !strings.Contains(out, "field: spec.containers[0].image") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// Through the config's customPolicies, relative to the config file.
	cfgDir := t.TempDir()
	if err := os.Rename(filepath.Join(dir, "no_latest_tag"), filepath.Join(cfgDir, "no_latest_tag")); err != nil {
		t.Fatal(err)
	}
	cfg := write(t, cfgDir, "c.yaml", "customPolicies: .\npolicies:\n  no-latest-tag:\n    action: warn\n")
	code, out, errOut = runCLI(t, latestPod, "check", "--config", cfg, "-f", "-")
	if code != 0 || !strings.Contains(out, "warn [no-latest-tag/latest-tag]") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}
