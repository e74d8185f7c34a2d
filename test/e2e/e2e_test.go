// Package e2e drives microguard through a real kube-apiserver and etcd
// (controller-runtime's envtest) with client-go and the real kubectl.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/microguard/microguard/test/localcluster"
)

var cluster *localcluster.Cluster

// microguardBin is the binary under test; decisionLogPath the decision log
// of the microguard the cluster calls.
var microguardBin, decisionLogPath string

// configText is the config the cluster's microguard runs with.
var configText string

const config = `apiVersion: microguard.io/v1alpha1
policies:
  owner-labels:
    action: deny
    labels: [owner]
  image-signature:
    action: deny
    unmatched: allow
    timeout: 2s
    rules:
    - images: ["{{REG}}/signed/**"]
      keys: ["{{KEY}}"]
      tlog: false
    - images: ["{{PRIV}}/private/**"]
      keys: ["{{KEY}}"]
      tlog: false
    - images: ["{{REG}}/keyref/*"]
      keyRef: {namespace: microguard-keys, name: cosign}
      tlog: false
    - images: ["{{HANG}}/**"]
      keys: ["{{KEY}}"]
      tlog: false
  public-storage:
    action: deny
    publicStorageClasses: [shared-public]
mutations:
  cost-tags:
    enabled: true
    labels: [owner, team, cost-center, env]
exemptions:
  namespaces: [kube-system, kube-node-lease, sandbox]
exceptions:
- policy: pod-security
  rules: [privileged, allowPrivilegeEscalation]
  namespaces: [monitoring]
  names: ["node-agent-*"]
  justification: the node agent reads host metrics
  approvedBy: platform-team
  expires: 2099-12-31
- policy: pod-security
  namespaces: [legacy]
  justification: migration of the old shop
  approvedBy: platform-team
  expires: 2020-01-01
`

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "microguard-e2e-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "microguard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/microguard")
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building microguard:", err)
		return 1
	}
	cfg := filepath.Join(dir, "config.yaml")
	signing := startSigning(dir)
	defer signing.tb.Close()
	conf := strings.NewReplacer("{{REG}}", signing.reg.Host, "{{PRIV}}", signing.priv.Host, "{{HANG}}", signing.hanging, "{{KEY}}", signing.keyPath).Replace(config)
	configText = conf
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		panic(err)
	}
	k8sBin := os.Getenv("KUBEBUILDER_ASSETS")
	if k8sBin == "" {
		k8sBin = filepath.Join(root, "bin", "k8s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	crds := filepath.Join(root, "test", "e2e", "testdata", "crds")
	// The decision log in a directory of its own, the one microguard may
	// write to (as the chart's volume; localcluster's ReadOnlyRoot).
	microguardBin, decisionLogPath = bin, filepath.Join(dir, "decisions", "decisions.db")
	cluster, err = localcluster.Start(ctx, localcluster.Options{K8sBin: k8sBin, Microguard: bin, Config: cfg, Dir: dir, Log: os.Stderr, CRDDirs: []string{crds}, DecisionLog: decisionLogPath, ReadOnlyRoot: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: no control plane (run `make k8s-bins`):", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		if log, err := os.ReadFile(cluster.MicroguardLog); err == nil {
			fmt.Fprintf(os.Stderr, "--- microguard log ---\n%s\n", log)
		}
	}
	if err := cluster.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping cluster:", err)
		return 1
	}
	return code
}

func namespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := cluster.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	defaultServiceAccount(t, name)
}

// defaultServiceAccount makes namespace ns's "default" ServiceAccount, as a
// cluster's controller does: the API server's ServiceAccount admission
// (localcluster turns it on) refuses pods without it.
func defaultServiceAccount(t *testing.T, ns string) {
	t.Helper()
	if err := cluster.DefaultServiceAccount(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
}

// podTemplate is a pod that the restricted Pod Security Standard admits.
func podTemplate(labels map[string]string) corev1.PodTemplateSpec {
	no, yes := false, true
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   &yes,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.example/where2eat/menu:1.0",
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}

func deployment(ns, name string, labels, tplLabels map[string]string) *appsv1.Deployment {
	tplLabels["app"] = name
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(tplLabels),
		},
	}
}

// denied asserts that err is a denial by microguard's validating webhook
// whose message holds every want.
func denied(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("admitted; want a denial")
	}
	if !apierrors.IsForbidden(err) {
		t.Fatalf("got %v; want a Forbidden denial", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, `admission webhook "validate.microguard.io" denied the request`) {
		t.Errorf("denial does not come from microguard: %s", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("denial lacks %q:\n%s", w, msg)
		}
	}
}

func TestDeployments(t *testing.T) {
	ctx := context.Background()
	namespace(t, "where2eat", map[string]string{"owner": "ana", "team": "food"})
	owner := map[string]string{"owner": "ana"}
	cases := []struct {
		name   string
		obj    *appsv1.Deployment
		dryRun bool
		want   []string // nil: admitted
	}{
		{"compliant deployment is admitted", deployment("where2eat", "menu", owner, map[string]string{"owner": "ana"}), false, nil},
		{"deployment without owner label is denied", deployment("where2eat", "orders", nil, map[string]string{"owner": "ana"}), false,
			[]string{`[owner-labels/missing-label] Deployment "orders" has no "owner" label (field: metadata.labels.owner). Fix: add owner: <team or person that owns this app> under metadata.labels`}},
		{"template without owner label is denied", deployment("where2eat", "reviews", owner, map[string]string{}), false,
			[]string{`[owner-labels/missing-label] the pod template of Deployment "reviews" has no "owner" label (field: spec.template.metadata.labels.owner). Fix: add owner: <team or person that owns this app> under spec.template.metadata.labels`}},
		{"dry-run is denied the same way", deployment("where2eat", "dry", nil, map[string]string{}), true,
			[]string{"(field: metadata.labels.owner). Fix:", "(field: spec.template.metadata.labels.owner). Fix:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []client.CreateOption
			if tc.dryRun {
				opts = append(opts, client.DryRunAll)
			}
			err := cluster.Client.Create(ctx, tc.obj, opts...)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			denied(t, err, tc.want...)
			// Nothing was stored.
			got := &appsv1.Deployment{}
			if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(tc.obj), got); !apierrors.IsNotFound(err) {
				t.Errorf("denied object was stored: %v", err)
			}
		})
	}
}

func TestDeniedLinesAreSortedAndOnePerViolation(t *testing.T) {
	namespace(t, "unowned", nil)
	err := cluster.Client.Create(context.Background(), deployment("unowned", "twice", nil, map[string]string{}))
	denied(t, err)
	msg := err.Error()
	first := strings.Index(msg, "(field: metadata.labels.owner)")
	second := strings.Index(msg, "(field: spec.template.metadata.labels.owner)")
	if first < 0 || second < 0 || first > second {
		t.Fatalf("want both violations, object first:\n%s", msg)
	}
	if n := strings.Count(msg, "\n[owner-labels/"); n != 2 || !strings.Contains(msg, "denied the request: 2 violations:\n") {
		t.Errorf("want a count, then each violation on its own line; got %d violation lines:\n%s", n, msg)
	}
}

func TestPodsAndOtherWorkloads(t *testing.T) {
	ctx := context.Background()
	namespace(t, "unowned", nil)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "unowned", Name: "debug"}, Spec: podTemplate(nil).Spec}
	denied(t, cluster.Client.Create(ctx, pod), "(field: metadata.labels.owner)")

	pod.Labels = map[string]string{"owner": "ana"}
	if err := cluster.Client.Create(ctx, pod); err != nil {
		t.Fatalf("labelled pod denied: %v", err)
	}

	tpl := podTemplate(map[string]string{"app": "digest"})
	tpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	cron := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: "unowned", Name: "digest", Labels: map[string]string{"owner": "ana"}},
		Spec:       batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tpl}}},
	}
	denied(t, cluster.Client.Create(ctx, cron), "(field: spec.jobTemplate.metadata.labels.owner)", "(field: spec.jobTemplate.spec.template.metadata.labels.owner)")

	// Owner on the CronJob, its job template and its pod template: admitted.
	cron.Spec.JobTemplate.Labels = map[string]string{"owner": "ana"}
	cron.Spec.JobTemplate.Spec.Template.Labels["owner"] = "ana"
	if err := cluster.Client.Create(ctx, cron); err != nil {
		t.Fatalf("labelled CronJob denied: %v", err)
	}

	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "unowned", Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: podTemplate(map[string]string{"app": "db", "owner": "ana"}),
		},
	}
	denied(t, cluster.Client.Create(ctx, sts), `StatefulSet "db" has no "owner" label (field: metadata.labels.owner)`)
}

// TestPodIsCostTaggedFromItsNamespace: the mutating webhook copies the
// namespace's cost labels onto a pod before validation sees it, so a bare
// pod in an owned namespace is admitted with the owner filled in.
func TestPodIsCostTaggedFromItsNamespace(t *testing.T) {
	ctx := context.Background()
	namespace(t, "kitchen", map[string]string{"owner": "ana", "team": "food", "cost-center": "cc-42"})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kitchen", Name: "oven", Labels: map[string]string{"team": "bakery"}},
		Spec:       podTemplate(nil).Spec,
	}
	if err := cluster.Client.Create(ctx, pod); err != nil {
		t.Fatalf("pod in an owned namespace denied: %v", err)
	}
	got := &corev1.Pod{}
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"owner": "ana", "team": "bakery", "cost-center": "cc-42"}
	for k, v := range want {
		if got.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels: %v)", k, got.Labels[k], v, got.Labels)
		}
	}
	if got.Annotations["microguard.io/mutations"] != "cost-tags,default-resources,opentelemetry" {
		t.Errorf("mutations annotation = %q, want cost-tags,default-resources,opentelemetry", got.Annotations["microguard.io/mutations"])
	}
	env := map[string]string{}
	for _, e := range got.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://otel-collector.observability.svc:4318" ||
		env["OTEL_RESOURCE_ATTRIBUTES"] != "k8s.namespace.name=kitchen,k8s.pod.name=$(MICROGUARD_POD_NAME),owner=ana,team=bakery,cost-center=cc-42" {
		t.Errorf("OpenTelemetry environment = %v", env)
	}
	// default-resources filled requests and limits, through a patch the API
	// server could apply to the pod as sent (which had no resources at all).
	if r := got.Spec.Containers[0].Resources; r.Requests.Cpu().String() != "100m" || r.Limits.Memory().String() != "256Mi" {
		t.Errorf("resources = %+v, want the default requests and limits", r)
	}
	// As in a real cluster, the API server's ServiceAccount admission gave
	// the pod its token volume and a mount of it before microguard saw it
	// (localcluster turns it on, as a cluster has it).
	if err := localcluster.TokenVolume(got); err != nil {
		t.Error(err)
	}
	// A Deployment is not mutated: its template stays as written, so GitOps
	// tools see no drift, and validation still asks for the owner label.
	denied(t, cluster.Client.Create(ctx, deployment("kitchen", "fryer", map[string]string{"owner": "ana"}, map[string]string{})),
		"(field: spec.template.metadata.labels.owner)")
	d := deployment("kitchen", "oven-line", map[string]string{"owner": "ana"}, map[string]string{"owner": "ana"})
	if err := cluster.Client.Create(ctx, d); err != nil {
		t.Fatalf("compliant Deployment denied: %v", err)
	}
	stored := &appsv1.Deployment{}
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(d), stored); err != nil {
		t.Fatal(err)
	}
	tpl := stored.Spec.Template
	if len(tpl.Annotations) != 0 || len(tpl.Spec.Containers[0].Env) != 0 || len(tpl.Spec.Containers[0].Resources.Requests) != 0 || tpl.Labels["team"] != "" {
		t.Errorf("the Deployment's template was mutated: %+v", tpl)
	}
}

func TestUpdateThatDropsOwnerIsDenied(t *testing.T) {
	ctx := context.Background()
	namespace(t, "where2eat", nil)
	d := deployment("where2eat", "cart", map[string]string{"owner": "ana"}, map[string]string{"owner": "ana"})
	if err := cluster.Client.Create(ctx, d); err != nil {
		t.Fatalf("create: %v", err)
	}
	delete(d.Labels, "owner")
	denied(t, cluster.Client.Update(ctx, d), "(field: metadata.labels.owner)")
	// DELETE is never blocked.
	if err := cluster.Client.Delete(ctx, deployment("where2eat", "cart", nil, map[string]string{})); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

func TestExemptNamespaceIsUntouched(t *testing.T) {
	namespace(t, "sandbox", nil)
	if err := cluster.Client.Create(context.Background(), deployment("sandbox", "scratch", nil, map[string]string{})); err != nil {
		t.Fatalf("exempt namespace denied: %v", err)
	}
}

func TestKubectlApplyShowsFieldAndFix(t *testing.T) {
	namespace(t, "where2eat", nil)
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubectl-web
  namespace: where2eat
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, owner: ana}}
    spec:
      containers: [{name: web, image: registry.example/where2eat/web:1.0}]
`
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, stderr, err := cluster.Kubectl(ctx, strings.NewReader(manifest), "apply", "-f", "-")
	if err == nil {
		t.Fatal("kubectl apply succeeded; want a denial")
	}
	for _, want := range []string{
		`admission webhook "validate.microguard.io" denied the request`,
		`[owner-labels/missing-label] Deployment "kubectl-web" has no "owner" label (field: metadata.labels.owner). Fix: add owner:`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("kubectl output lacks %q:\n%s", want, stderr)
		}
	}
}
