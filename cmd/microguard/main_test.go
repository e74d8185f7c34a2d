package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microguard/microguard/pkg/verify/verifytest"
)

const (
	namespace = `apiVersion: v1
kind: Namespace
metadata:
  name: where2eat
  labels: {owner: ana, team: food}
`
	goodDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: menu, namespace: where2eat, labels: {owner: ana}}
spec:
  selector: {matchLabels: {app: menu}}
  template:
    metadata: {labels: {app: menu, owner: ana}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers: [{name: menu, image: "menu:1", securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]
`
	badDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: orders, namespace: where2eat}
spec:
  selector: {matchLabels: {app: orders}}
  template:
    metadata: {labels: {app: orders}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers: [{name: orders, image: "orders:1", securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]
`
	barePod = `apiVersion: v1
kind: Pod
metadata: {name: smoke, namespace: where2eat}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers: [{name: curl, image: "curl:1", securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]
`
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

type report struct {
	Results []struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Namespace  string `json:"namespace"`
		Name       string `json:"name"`
		Source     string `json:"source"`
		Allowed    bool   `json:"allowed"`
		Violations []struct {
			Policy, Rule, Action, Message, Field, Hint string
		} `json:"violations"`
		Warnings []string         `json:"warnings"`
		Patch    []map[string]any `json:"patch"`
	} `json:"results"`
}

func TestCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good.yaml", namespace+"---\n"+goodDeployment)
	bad := write(t, dir, "bad.yaml", badDeployment)
	broken := write(t, dir, "broken.yaml", goodDeployment+"---\nkind: [unclosed\n")
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"all admitted", []string{"check", "-f", good}, 0, "2 objects checked: 2 admitted, 0 denied", ""},
		{"one denied", []string{"check", "-f", good, "-f", bad}, 1, "DENIED Deployment where2eat/orders", ""},
		{"denial shows field and fix", []string{"check", "-f", bad}, 1, "field: spec.template.metadata.labels.owner", ""},
		{"unreadable document names file and number", []string{"check", "-f", broken}, 2, "", "broken.yaml#2"},
		{"missing file", []string{"check", "-f", filepath.Join(dir, "nope.yaml")}, 2, "", "nope.yaml"},
		{"no -f", []string{"check"}, 2, "", "no input"},
		{"bad -o", []string{"check", "-o", "xml", "-f", good}, 2, "", "-o must be text, json or yaml"},
		{"unknown flag", []string{"check", "--nope"}, 2, "", "unknown flag"},
		{"bad config names the key", []string{"check", "--config", write(t, dir, "cfg.yaml", "policies:\n  owner-labels:\n    lables: [x]\n"), "-f", good}, 2, "", "cfg.yaml:3: policies.owner-labels.lables: unknown key"},
		{"config can warn instead of deny", []string{"check", "--config", write(t, dir, "warn.yaml", "policies:\n  owner-labels:\n    action: warn\n"), "-f", bad}, 0, "warn [owner-labels/missing-label]", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, out)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errOut)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	code, out, errOut := runCLI(t, namespace+"---\n"+badDeployment+"---\n"+barePod, "check", "-o", "json", "-f", "-")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr: %s", code, errOut)
	}
	var rep report
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("output is not the documented JSON: %v\n%s", err, out)
	}
	if len(rep.Results) != 3 {
		t.Fatalf("%d results, want 3", len(rep.Results))
	}
	ns, dep, pod := rep.Results[0], rep.Results[1], rep.Results[2]
	if ns.Kind != "Namespace" || !ns.Allowed || ns.Source != "<stdin>#1" {
		t.Errorf("namespace result %+v", ns)
	}
	if dep.APIVersion != "apps/v1" || dep.Kind != "Deployment" || dep.Namespace != "where2eat" || dep.Name != "orders" || dep.Source != "<stdin>#2" || dep.Allowed {
		t.Errorf("deployment result %+v", dep)
	}
	if len(dep.Violations) != 2 || dep.Violations[0].Field != "metadata.labels.owner" || dep.Violations[1].Field != "spec.template.metadata.labels.owner" {
		t.Fatalf("deployment violations %+v", dep.Violations)
	}
	v := dep.Violations[0]
	if v.Policy != "owner-labels" || v.Rule != "missing-label" || v.Action != "deny" || v.Message == "" || !strings.Contains(v.Hint, "under metadata.labels") {
		t.Errorf("violation %+v", v)
	}
	if dep.Warnings == nil || dep.Patch == nil {
		t.Errorf("warnings and patch must be arrays, got %v %v", dep.Warnings, dep.Patch)
	}
	// The bare pod takes owner and team from the Namespace in the input, so
	// it is admitted with a patch.
	if !pod.Allowed || len(pod.Violations) != 0 {
		t.Errorf("pod result %+v", pod)
	}
	var paths []string
	for _, op := range pod.Patch {
		paths = append(paths, op["path"].(string))
	}
	if !strings.Contains(strings.Join(paths, " "), "/metadata/labels") {
		t.Errorf("pod patch %v does not add labels", pod.Patch)
	}
}

func TestCheckDirectoryAndList(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a/ns.yaml", namespace)
	write(t, dir, "b/list.json", `{"apiVersion":"v1","kind":"List","items":[`+
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x","namespace":"where2eat"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}]}`)
	write(t, dir, "notes.txt", "not a manifest")
	code, out, errOut := runCLI(t, "", "check", "-o", "json", "-f", dir)
	if code != 1 {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || !strings.HasSuffix(rep.Results[1].Source, "list.json#1[0]") {
		t.Fatalf("results %+v", rep.Results)
	}
}

func TestCheckWrongFieldTypesIsUnreadable(t *testing.T) {
	code, _, errOut := runCLI(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: 3}\n", "check", "-f", "-")
	if code != 2 || !strings.Contains(errOut, "<stdin>#1") {
		t.Fatalf("exit %d, stderr %q; want 2 naming <stdin>#1", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "microguard ") {
		t.Fatalf("exit %d, %q", code, out)
	}
}

func TestServeNeedsCertDir(t *testing.T) {
	code, _, errOut := runCLI(t, "", "serve")
	if code != 2 || !strings.Contains(errOut, "cert-dir") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestServeRefusesBadConfigAtStart(t *testing.T) {
	cfg := write(t, t.TempDir(), "c.yaml", "policies:\n  owner-labels:\n    action: block\n")
	code, _, errOut := runCLI(t, "", "serve", "--cert-dir", t.TempDir(), "--config", cfg)
	if code != 2 || !strings.Contains(errOut, "policies.owner-labels.action") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestServeRefusesBadTracingEnvAtStart(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	code, _, errOut := runCLI(t, "", "serve", "--cert-dir", t.TempDir())
	if code != 2 || !strings.Contains(errOut, "tracing: OTEL_TRACES_EXPORTER") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestCheckYAMLPrintsMutatedObjects(t *testing.T) {
	code, out, errOut := runCLI(t, namespace+"---\n"+barePod, "check", "-o", "yaml", "-f", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"kind: Namespace", "---\n", "kind: Pod", "microguard.io/mutations: cost-tags,default-resources,opentelemetry", "team: food", "OTEL_EXPORTER_OTLP_ENDPOINT", "memory: 256Mi"} {
		if !strings.Contains(out, want) {
			t.Errorf("yaml output lacks %q:\n%s", want, out)
		}
	}
}

// TestKMSProvidersAreCompiledIn: a KMS key names its provider's problem
// (no Vault address here), not "no provider", so the providers are in the
// binary; and the error names the key at fault.
func TestKMSProvidersAreCompiledIn(t *testing.T) {
	t.Setenv("VAULT_ADDR", "")
	cfg := write(t, t.TempDir(), "c.yaml", `policies:
  image-signature:
    action: deny
    rules:
    - images: ["ghcr.io/org/**"]
      keys: ["hashivault://team-a"]
      tlog: false
`)
	code, _, errOut := runCLI(t, "", "serve", "--cert-dir", t.TempDir(), "--config", cfg)
	if code != 2 || !strings.Contains(errOut, "policies.image-signature.rules[0].keys[0]: loading KMS key: VAULT_ADDR is not set") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

// TestImageSignatureErrorsNameFileAndLine: a rule's fields are checked
// after the config is read, and still name the line at fault.
func TestImageSignatureErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	key := verifytest.NewKey(t, "ecdsa").WritePublicKey(t, dir, "k.pub")
	for _, tc := range []struct{ config, want string }{
		{`policies:
  image-signature:
    action: deny
    rules:
    - images: ["ghcr.io/org/**"]
      keys:
      - ` + dir + `/absent.pub
      tlog: false
`, "c.yaml:7: policies.image-signature.rules[0].keys[0]: open " + dir + "/absent.pub: no such file or directory"},
		{`policies:
  image-signature:
    action: deny
    rules:
    - images: ["ghcr.io/org/**"]
      keyless: {issuer: https://accounts.example.com, subject: a@example.com}
      tlog: false
`, "c.yaml:6: policies.image-signature.rules[0].keyless.trustedRoot: keyless verification needs a trusted_root.json"},
		{`policies:
  image-signature:
    action: deny
    rules:
    - images: ["ghcr.io/org/**"]
      keys: ["` + key + `"]
`, "c.yaml:5: policies.image-signature.rules[0].tlog: is true (the default)"},
	} {
		cfg := write(t, dir, "c.yaml", tc.config)
		code, _, errOut := runCLI(t, "", "check", "--config", cfg, "-f", "../../examples/where2eat/app/menu.yaml")
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("exit %d, stderr %q\nwant it to contain %q", code, errOut, tc.want)
		}
	}
}
