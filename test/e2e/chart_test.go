package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// helmBinary is bin/helm (make helm), or $HELM.
func helmBinary(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	h, err := filepath.Abs("../../bin/helm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(h); err != nil {
		t.Fatalf("no helm at %s: run `make helm` (make test does)", h)
	}
	return h
}

// renderChart is helm template of the chart for release in namespace ns,
// with valueFiles on top of the defaults, as objects.
func renderChart(t *testing.T, release, ns string, valueFiles ...string) []*unstructured.Unstructured {
	t.Helper()
	chart, err := filepath.Abs("../../charts/microguard")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"template", release, chart, "--namespace", ns}
	for _, f := range valueFiles {
		args = append(args, "-f", f)
	}
	cmd := exec.Command(helmBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template: %v\n%s", err, errb.String())
	}
	var objs []*unstructured.Unstructured
	dec := yaml.NewYAMLOrJSONDecoder(&out, 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("decoding helm's output: %v", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// TestChartObjectsAreAcceptedByTheAPIServer renders the chart with its
// default values and every ci/*-values.yaml and creates each object with a
// server-side dry run: the real API server must accept every kind it knows
// (custom kinds whose CRDs this cluster lacks, such as ServiceMonitor or a
// cert-manager Certificate, are the only ones left out).
func TestChartObjectsAreAcceptedByTheAPIServer(t *testing.T) {
	chart, err := filepath.Abs("../../charts/microguard")
	if err != nil {
		t.Fatal(err)
	}
	valueFiles, err := filepath.Glob(filepath.Join(chart, "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The release namespace: exempt in the e2e config, as the chart's own
	// namespaceSelector exempts it in a real install.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sandbox"}}
	if err := cluster.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, values := range append([]string{""}, valueFiles...) {
		name := "defaults"
		if values != "" {
			name = filepath.Base(values)
		}
		t.Run(name, func(t *testing.T) {
			var files []string
			if values != "" {
				files = append(files, values)
			}
			accepted, unknown := 0, map[string]bool{}
			for _, u := range renderChart(t, "mg-chart", "sandbox", files...) {
				if n := u.GetNamespace(); n != "" && n != "sandbox" {
					namespace(t, n, nil) // e.g. where a keyRef Secret lives
				}
				err := cluster.Client.Create(ctx, u, client.DryRunAll)
				switch {
				case err == nil:
					accepted++
				case meta.IsNoMatchError(err):
					unknown[u.GetKind()] = true
				default:
					t.Errorf("%s %s refused by the API server: %v", u.GetKind(), u.GetName(), err)
				}
			}
			if accepted == 0 {
				t.Fatal("no object was accepted")
			}
			for kind := range unknown {
				switch kind {
				case "ServiceMonitor", "PrometheusRule", "Issuer", "Certificate":
				default:
					t.Errorf("kind %s is unknown to the API server", kind)
				}
			}
			t.Logf("%d objects accepted by a server-side dry run; kinds without CRDs here: %v", accepted, unknown)
		})
	}
}
