package mutate

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/microguard/microguard/pkg/config"
)

func envOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		if _, dup := out[e.Name]; dup {
			out[e.Name+"#dup"] = e.Value
		}
		out[e.Name] = e.Value
	}
	return out
}

func TestOpenTelemetry(t *testing.T) {
	c := chain(t, map[string]config.Mutation{"opentelemetry": {Enabled: true, Options: map[string]any{
		"endpoint": "http://collector:4318", "protocol": "grpc", "costTags": []any{"owner", "cost-center"},
	}}})
	yes := true
	p := pod(map[string]string{"app.kubernetes.io/version": "1.4.0", "env": "prod", "owner": "ana", "cost-center": "cc-42", "pod-template-hash": "7d9f"})
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "menu-7d9f", Controller: &yes}}
	p.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "m"}}
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "OTEL_SERVICE_NAME", Value: "custom"}}
	got, _, applied := apply(t, c, p, Context{Namespace: "where2eat"})
	if len(applied) != 1 || applied[0] != "opentelemetry" {
		t.Fatalf("applied %v", applied)
	}
	app, init := envOf(got.Spec.Containers[0]), envOf(got.Spec.InitContainers[0])
	if app["OTEL_SERVICE_NAME"] != "custom" || app["OTEL_SERVICE_NAME#dup"] != "" {
		t.Errorf("a variable the container set was changed or duplicated: %v", app)
	}
	want := map[string]string{
		"OTEL_SERVICE_NAME":           "menu", // the Deployment behind the ReplicaSet
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"OTEL_RESOURCE_ATTRIBUTES":    "k8s.namespace.name=where2eat,k8s.pod.name=$(MICROGUARD_POD_NAME),service.version=1.4.0,deployment.environment=prod,owner=ana,cost-center=cc-42",
	}
	for k, v := range want {
		if init[k] != v {
			t.Errorf("init container %s = %q, want %q", k, init[k], v)
		}
	}
	if got.Spec.InitContainers[0].Env[0].Name != podNameVar || got.Spec.InitContainers[0].Env[0].ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("the pod name must come first, from the downward API: %+v", got.Spec.InitContainers[0].Env[0])
	}
	if _, n, _ := apply(t, c, got, Context{Namespace: "where2eat"}); n != 0 {
		t.Errorf("second run patched %d operations", n)
	}

	// Opt-out per pod.
	out := pod(nil)
	out.Annotations = map[string]string{OptOutAnnotation: "false"}
	if _, n, _ := apply(t, c, out, Context{}); n != 0 {
		t.Errorf("opted-out pod patched %d operations", n)
	}
}

func TestServiceName(t *testing.T) {
	yes := true
	for want, p := range map[string]*corev1.Pod{
		"a":   {ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": "a", "app": "b"}}},
		"b":   {ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "b"}}},
		"job": {ObjectMeta: metav1.ObjectMeta{Name: "job-x1", OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: "job", Controller: &yes}}}},
		"web": {ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"}},
	} {
		if got := serviceName(p); got != want {
			t.Errorf("serviceName = %q, want %q", got, want)
		}
	}
}
