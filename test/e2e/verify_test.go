package e2e

import (
	"context"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestPodThatSkippedMutationIsDenied: with the mutating webhook gone (as
// when it is down and fails open), a pod reaches validation unmutated and
// is refused, naming each missing mutation. With it back, the same pod is
// admitted.
func TestPodThatSkippedMutationIsDenied(t *testing.T) {
	ctx := context.Background()
	namespace(t, "kitchen", map[string]string{"owner": "ana", "team": "food", "cost-center": "cc-42"})
	hook := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := cluster.Client.Get(ctx, client.ObjectKey{Name: "microguard"}, hook); err != nil {
		t.Fatal(err)
	}
	saved := hook.DeepCopy()
	if err := cluster.Client.Delete(ctx, hook); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if restored {
			return
		}
		restored = true
		saved.ResourceVersion, saved.UID = "", ""
		if err := cluster.Client.Create(ctx, saved); err != nil {
			t.Fatalf("restoring the mutating webhook: %v", err)
		}
	}
	defer restore()

	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "kitchen", Name: name, Labels: map[string]string{"owner": "ana"}}, Spec: podTemplate(nil).Spec}
	}
	// The API server's webhook configuration cache catches up within a moment.
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = cluster.Client.Create(ctx, pod("unmutated"), client.DryRunAll); err != nil {
			break
		}
	}
	denied(t, err, "[mutations-applied/cost-tags]", "[mutations-applied/default-resources]", "[mutations-applied/opentelemetry]",
		`the mutating webhook "mutate.microguard.io" may be down or was skipped`, "Fix:")

	restore()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = cluster.Client.Create(ctx, pod("mutated"), client.DryRunAll); err == nil {
			return
		}
	}
	t.Fatalf("with the mutating webhook back, the pod is still denied: %v", err)
}

// TestUpdateOfMutatedPodAddsNothing: the mutating webhook runs again on an
// UPDATE (and on reinvocation) and must add nothing twice.
func TestUpdateOfMutatedPodAddsNothing(t *testing.T) {
	ctx := context.Background()
	namespace(t, "kitchen", map[string]string{"owner": "ana", "team": "food", "cost-center": "cc-42"})
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "kitchen", Name: "stove", Labels: map[string]string{"owner": "ana"}}, Spec: podTemplate(nil).Spec}
	if err := cluster.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	before := &corev1.Pod{}
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(p), before); err != nil {
		t.Fatal(err)
	}
	updated := before.DeepCopy()
	updated.Labels["release"] = "2"
	if err := cluster.Client.Update(ctx, updated); err != nil {
		t.Fatalf("update denied: %v", err)
	}
	after := &corev1.Pod{}
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(p), after); err != nil {
		t.Fatal(err)
	}
	if n, m := len(before.Spec.Containers[0].Env), len(after.Spec.Containers[0].Env); n == 0 || n != m {
		t.Errorf("env had %d variables, has %d after the update", n, m)
	}
	if after.Annotations["microguard.io/mutations"] != before.Annotations["microguard.io/mutations"] || after.Labels["release"] != "2" {
		t.Errorf("update changed the mutations: %v -> %v", before.Annotations, after.Annotations)
	}
}

// TestPodKeepsWhatItSets: a pod's own cost-center, OTEL_SERVICE_NAME and
// resources are kept, and each variable appears once.
func TestPodKeepsWhatItSets(t *testing.T) {
	ctx := context.Background()
	namespace(t, "kitchen", map[string]string{"owner": "ana", "team": "food", "cost-center": "cc-42"})
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "kitchen", Name: "grill", Labels: map[string]string{"owner": "ana", "cost-center": "cc-own"}}, Spec: podTemplate(nil).Spec}
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "OTEL_SERVICE_NAME", Value: "grill-svc"}}
	p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	if err := cluster.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	got := &corev1.Pod{}
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
		t.Fatal(err)
	}
	if got.Labels["cost-center"] != "cc-own" || got.Labels["team"] != "food" {
		t.Errorf("labels %v: want the pod's own cost-center and the namespace's team", got.Labels)
	}
	seen := map[string]int{}
	for _, e := range got.Spec.Containers[0].Env {
		seen[e.Name]++
		if e.Name == "OTEL_SERVICE_NAME" && e.Value != "grill-svc" {
			t.Errorf("OTEL_SERVICE_NAME = %q, want the pod's own", e.Value)
		}
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s appears %d times", name, n)
		}
	}
	r := got.Spec.Containers[0].Resources
	if r.Requests.Cpu().String() != "2" || r.Limits.Memory().String() != "1Gi" || r.Requests.Memory().String() != "1Gi" {
		t.Errorf("resources %+v: want the pod's own cpu request and memory limit, and the memory request set to that limit", r)
	}
}
