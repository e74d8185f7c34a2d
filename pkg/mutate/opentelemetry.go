package mutate

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/microguard/microguard/pkg/config"
)

// OptOutAnnotation set to "false" on a pod turns OpenTelemetry injection off.
const OptOutAnnotation = "microguard.io/inject-otel"

// podNameVar carries the pod name through the downward API, for
// OTEL_RESOURCE_ATTRIBUTES to reference.
const podNameVar = "MICROGUARD_POD_NAME"

// openTelemetry adds the OpenTelemetry SDK environment to every container
// and init container that does not set it: service name, OTLP endpoint and
// protocol, and resource attributes naming the namespace, the pod, the
// version, the environment and the cost tags.
type openTelemetry struct {
	endpoint, protocol string
	costTags           []string
}

var openTelemetryFactory = Factory{
	Spec: config.Spec{ID: "opentelemetry", Options: map[string]config.Option{
		"endpoint": {Type: config.String, Default: "http://otel-collector.observability.svc:4318",
			Description: "OTEL_EXPORTER_OTLP_ENDPOINT given to containers"},
		"protocol": {Type: config.String, Default: "http/protobuf", Enum: []string{"http/protobuf", "http/json", "grpc"},
			Description: "OTEL_EXPORTER_OTLP_PROTOCOL given to containers"},
		"costTags": {Type: config.StringList, Default: []any{"owner", "team", "cost-center", "env"},
			Description: "pod labels added to OTEL_RESOURCE_ATTRIBUTES as key=value"},
	}},
	New: func(o map[string]any) (Mutator, error) {
		m := &openTelemetry{endpoint: o["endpoint"].(string), protocol: o["protocol"].(string)}
		if m.endpoint == "" {
			return nil, fmt.Errorf("endpoint: an OTLP endpoint is required")
		}
		for _, t := range o["costTags"].([]any) {
			m.costTags = append(m.costTags, t.(string))
		}
		return m, nil
	},
}

func (m *openTelemetry) Mutate(pod *corev1.Pod, c Context) (bool, error) {
	if pod.Annotations[OptOutAnnotation] == "false" || !m.lacking(pod) {
		return false, nil
	}
	env := []corev1.EnvVar{
		{Name: podNameVar, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "OTEL_SERVICE_NAME", Value: serviceName(pod)},
		{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Value: m.endpoint},
		{Name: "OTEL_EXPORTER_OTLP_PROTOCOL", Value: m.protocol},
		{Name: "OTEL_RESOURCE_ATTRIBUTES", Value: m.attributes(pod, c)},
	}
	changed := false
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			for _, e := range env {
				if !slices.ContainsFunc(list[i].Env, func(x corev1.EnvVar) bool { return x.Name == e.Name }) {
					list[i].Env = append(list[i].Env, e)
					changed = true
				}
			}
		}
	}
	return changed, nil
}

// envNames are the variables Mutate adds.
var envNames = [...]string{podNameVar, "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_RESOURCE_ATTRIBUTES"}

// lacking reports whether a container or init container lacks one of
// envNames, before anything is built for them (in validation, a pod
// usually has them all).
func (m *openTelemetry) lacking(pod *corev1.Pod) bool {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			for _, name := range envNames {
				if !slices.ContainsFunc(list[i].Env, func(x corev1.EnvVar) bool { return x.Name == name }) {
					return true
				}
			}
		}
	}
	return false
}

// attributes are the resource attributes; label values cannot hold the
// separators "," and "=".
func (m *openTelemetry) attributes(pod *corev1.Pod, c Context) string {
	ns := c.Namespace
	if ns == "" {
		ns = pod.Namespace
	}
	attrs := []string{"k8s.namespace.name=" + ns, "k8s.pod.name=$(" + podNameVar + ")"}
	if v := pod.Labels["app.kubernetes.io/version"]; v != "" {
		attrs = append(attrs, "service.version="+v)
	}
	if v := pod.Labels["env"]; v != "" {
		attrs = append(attrs, "deployment.environment="+v)
	}
	for _, t := range m.costTags {
		if v := pod.Labels[t]; v != "" {
			attrs = append(attrs, t+"="+v)
		}
	}
	return strings.Join(attrs, ",")
}

// serviceName is app.kubernetes.io/name, else app, else the owning
// workload's name (a ReplicaSet's pod-template-hash suffix removed), else
// the pod's name.
func serviceName(pod *corev1.Pod) string {
	for _, l := range []string{"app.kubernetes.io/name", "app"} {
		if v := pod.Labels[l]; v != "" {
			return v
		}
	}
	for _, ref := range pod.OwnerReferences {
		if ref.Controller != nil && *ref.Controller {
			if h := pod.Labels["pod-template-hash"]; ref.Kind == "ReplicaSet" && h != "" {
				return strings.TrimSuffix(ref.Name, "-"+h)
			}
			return ref.Name
		}
	}
	if pod.Name != "" {
		return pod.Name
	}
	return strings.TrimSuffix(pod.GenerateName, "-")
}
