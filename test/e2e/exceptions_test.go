package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// warnings collects the warnings the API server relays from the webhook.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func privilegedPod(ns, name string) *corev1.Pod {
	yes := true
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"owner": "ana"}}, Spec: podTemplate(nil).Spec}
	p.Spec.Containers[0].SecurityContext.Privileged = &yes
	p.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = &yes
	return p
}

func TestExceptions(t *testing.T) {
	ctx := context.Background()
	namespace(t, "monitoring", nil)
	namespace(t, "legacy", nil)
	w := &warnings{}
	cfg := rest.CopyConfig(cluster.RestConfig)
	cfg.WarningHandler = w
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, privilegedPod("monitoring", "node-agent-1")); err != nil {
		t.Fatalf("pod covered by an exception denied: %v", err)
	}
	joined := strings.Join(w.msgs, "\n")
	for _, want := range []string{"[pod-security/privileged]", "waived by exception exceptions[0] (approved by platform-team, expires 2100-01-01T00:00:00Z: the node agent reads host metrics)"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
	// The exception names node-agent-*: another pod there is still refused.
	denied(t, c.Create(ctx, privilegedPod("monitoring", "miner")), "[pod-security/privileged]")
	// An expired exception waives nothing.
	denied(t, c.Create(ctx, privilegedPod("legacy", "old-shop")), "[pod-security/privileged]")
}
