package e2e

import (
	"context"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
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
