package server

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// A namespace the informer has not seen yet is read from the API server.
func TestNamespaceLabelsFallBackToTheAPIServer(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	seen := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "old", Labels: map[string]string{"owner": "cache"}}}
	fresh := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "new", Labels: map[string]string{"owner": "live"}}}
	c := &namespaceCache{&metaCache{
		what: "namespaces", gvk: namespaceGVK,
		reader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(seen).Build(),
		live:   fake.NewClientBuilder().WithScheme(scheme).WithObjects(seen.DeepCopy(), fresh).Build(),
	}}
	for name, want := range map[string]string{"old": "cache", "new": "live"} {
		labels, ok, err := c.Labels(context.Background(), name)
		if err != nil || !ok || labels["owner"] != want {
			t.Errorf("%s: labels %v ok %v err %v; want owner=%s", name, labels, ok, err, want)
		}
	}
	if _, ok, err := c.Labels(context.Background(), "missing"); ok || err != nil {
		t.Errorf("missing namespace: ok %v err %v", ok, err)
	}
}
