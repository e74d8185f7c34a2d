// Package chart tests the Helm chart charts/microguard through what it
// renders: helm template with the default values, every ci/*-values.yaml and
// values built for one test, decoded strictly into the Kubernetes API types.
// It needs helm: $HELM, else ../../bin/helm (make helm).
package chart

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	release   = "microguard"
	namespace = "microguard"
	// kubeVersion is the Kubernetes version helm renders for (make k8s-bins
	// builds the same one), passed explicitly so that any helm works.
	kubeVersion = "1.37.2"
)

// chartDir is charts/microguard.
func chartDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "charts", "microguard"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// helmBinary is $HELM, else ../../bin/helm. A missing helm fails the test:
// the chart would otherwise go untested.
func helmBinary(t testing.TB) string {
	t.Helper()
	h := os.Getenv("HELM")
	if h == "" {
		var err error
		if h, err = filepath.Abs(filepath.Join("..", "..", "bin", "helm")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(h); err != nil {
		t.Fatalf("no helm at %s: run `make helm` (make test and make chart-test do), or set HELM to a helm v3 binary", h)
	}
	return h
}

// ciValues are the chart's ci/*-values.yaml files.
func ciValues(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir(t), "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no ci/*-values.yaml in the chart")
	}
	return files
}

// valueSets are the default values ("") and every ci file.
func valueSets(t testing.TB) []string {
	return append([]string{""}, ciValues(t)...)
}

func setName(values string) string {
	if values == "" {
		return "defaults"
	}
	return strings.TrimSuffix(filepath.Base(values), "-values.yaml")
}

// helmTemplate runs helm template with args appended and returns stdout, or
// stderr as the error.
func helmTemplate(t testing.TB, chart, ns string, args ...string) (string, error) {
	t.Helper()
	all := append([]string{"template", release, chart, "--namespace", ns, "--kube-version", kubeVersion}, args...)
	cmd := exec.Command(helmBinary(t), all...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("helm %s: %v: %s", strings.Join(all, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// object is one rendered manifest.
type object struct {
	Kind, Name, Namespace string
	JSON                  []byte
}

// rendered is everything one helm template produced.
type rendered struct {
	t       testing.TB
	objects []object
}

// render renders the chart in namespace "microguard" with a values file
// ("" for none) and --set style args; the test fails if helm does.
func render(t testing.TB, values string, args ...string) *rendered {
	t.Helper()
	return renderIn(t, namespace, values, args...)
}

func renderIn(t testing.TB, ns, values string, args ...string) *rendered {
	t.Helper()
	if values != "" {
		args = append([]string{"-f", values}, args...)
	}
	out, err := helmTemplate(t, chartDir(t), ns, args...)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, out)
}

// parse splits helm's output into objects.
func parse(t testing.TB, out string) *rendered {
	t.Helper()
	r := &rendered{t: t}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading helm's output: %v", err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if string(j) == "null" {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(j, &meta); err != nil {
			t.Fatal(err)
		}
		if meta.APIVersion == "" || meta.Kind == "" || meta.Metadata.Name == "" {
			t.Fatalf("rendered object without apiVersion, kind or name:\n%s", doc)
		}
		r.objects = append(r.objects, object{Kind: meta.Kind, Name: meta.Metadata.Name, Namespace: meta.Metadata.Namespace, JSON: j})
	}
	if len(r.objects) == 0 {
		t.Fatal("helm rendered no objects")
	}
	return r
}

// all returns the objects of kind.
func (r *rendered) all(kind string) []object {
	var out []object
	for _, o := range r.objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// has reports whether an object of kind is rendered.
func (r *rendered) has(kind string) bool { return len(r.all(kind)) > 0 }

// one decodes the only object of kind strictly (an unknown field fails the
// test: a misspelt key would be dropped by the API server) into into.
func (r *rendered) one(kind string, into any) {
	r.t.Helper()
	objs := r.all(kind)
	if len(objs) != 1 {
		r.t.Fatalf("want one %s, rendered %d", kind, len(objs))
	}
	strictInto(r.t, objs[0], into)
}

// named decodes the object of kind and name strictly into into.
func (r *rendered) named(kind, name string, into any) {
	r.t.Helper()
	for _, o := range r.all(kind) {
		if o.Name == name {
			strictInto(r.t, o, into)
			return
		}
	}
	r.t.Fatalf("no %s %q rendered (have %v)", kind, name, r.kinds())
}

func (r *rendered) kinds() []string {
	var out []string
	for _, o := range r.objects {
		out = append(out, o.Kind+"/"+o.Name)
	}
	sort.Strings(out)
	return out
}

func strictInto(t testing.TB, o object, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(o.JSON, into); err != nil {
		t.Fatalf("%s %s: %v", o.Kind, o.Name, err)
	}
}

// workload is the rendered StatefulSet or Deployment and its pod template
// (exactly one of the two is rendered).
type workload struct {
	Kind     string
	Replicas int32
	Template corev1.PodTemplateSpec
	Selector map[string]string
	Claims   []corev1.PersistentVolumeClaim
	STS      *appsv1.StatefulSet
	Deploy   *appsv1.Deployment
}

func (r *rendered) workload() workload {
	r.t.Helper()
	sts, deps := r.all("StatefulSet"), r.all("Deployment")
	switch {
	case len(sts) == 1 && len(deps) == 0:
		var s appsv1.StatefulSet
		strictInto(r.t, sts[0], &s)
		return workload{Kind: "StatefulSet", Replicas: deref(s.Spec.Replicas), Template: s.Spec.Template, Selector: s.Spec.Selector.MatchLabels, Claims: s.Spec.VolumeClaimTemplates, STS: &s}
	case len(deps) == 1 && len(sts) == 0:
		var d appsv1.Deployment
		strictInto(r.t, deps[0], &d)
		return workload{Kind: "Deployment", Replicas: deref(d.Spec.Replicas), Template: d.Spec.Template, Selector: d.Spec.Selector.MatchLabels, Deploy: &d}
	}
	r.t.Fatalf("want one StatefulSet or one Deployment, rendered %d and %d", len(sts), len(deps))
	return workload{}
}

func (w workload) container(t testing.TB) corev1.Container {
	t.Helper()
	if len(w.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(w.Template.Spec.Containers))
	}
	return w.Template.Spec.Containers[0]
}

func (r *rendered) webhooks() (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	r.t.Helper()
	var m admissionregistrationv1.MutatingWebhookConfiguration
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	r.one("MutatingWebhookConfiguration", &m)
	r.one("ValidatingWebhookConfiguration", &v)
	if len(m.Webhooks) != 1 || len(v.Webhooks) != 1 {
		r.t.Fatalf("want one webhook in each configuration, have %d and %d", len(m.Webhooks), len(v.Webhooks))
	}
	return &m, &v
}

// decodeAll decodes every object of a kind the chart may render strictly
// into its API type; it fails on a kind the test does not know.
func (r *rendered) decodeAll() {
	r.t.Helper()
	for _, o := range r.objects {
		var into any
		switch o.Kind {
		case "StatefulSet":
			into = &appsv1.StatefulSet{}
		case "Deployment":
			into = &appsv1.Deployment{}
		case "Service":
			into = &corev1.Service{}
		case "ServiceAccount":
			into = &corev1.ServiceAccount{}
		case "ConfigMap":
			into = &corev1.ConfigMap{}
		case "PodDisruptionBudget":
			into = &policyv1.PodDisruptionBudget{}
		case "NetworkPolicy":
			into = &networkingv1.NetworkPolicy{}
		case "ClusterRole":
			into = &rbacv1.ClusterRole{}
		case "ClusterRoleBinding":
			into = &rbacv1.ClusterRoleBinding{}
		case "Role":
			into = &rbacv1.Role{}
		case "RoleBinding":
			into = &rbacv1.RoleBinding{}
		case "MutatingWebhookConfiguration":
			into = &admissionregistrationv1.MutatingWebhookConfiguration{}
		case "ValidatingWebhookConfiguration":
			into = &admissionregistrationv1.ValidatingWebhookConfiguration{}
		case "Issuer", "Certificate", "ServiceMonitor", "PrometheusRule":
			into = &map[string]any{} // custom resources: checked by their own tests
		default:
			r.t.Errorf("unexpected kind %s (%s): teach test/chart about it", o.Kind, o.Name)
			continue
		}
		strictInto(r.t, o, into)
	}
}

// generic decodes an object as a map (custom resources).
func (r *rendered) generic(kind, name string) map[string]any {
	r.t.Helper()
	m := map[string]any{}
	r.named(kind, name, &m)
	return m
}

// path walks maps by keys.
func path(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// expectFailure renders with args and returns helm's error; the test fails
// if helm succeeds.
func expectFailure(t testing.TB, args ...string) error {
	t.Helper()
	_, err := helmTemplate(t, chartDir(t), namespace, args...)
	if err == nil {
		t.Fatalf("helm template %v succeeded; want it refused", args)
	}
	return err
}
