package mutate

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/microguard/microguard/pkg/config"
)

func resources(req, lim map[string]string) corev1.ResourceRequirements {
	list := func(m map[string]string) corev1.ResourceList {
		if m == nil {
			return nil
		}
		out := corev1.ResourceList{}
		for k, v := range m {
			out[corev1.ResourceName(k)] = resource.MustParse(v)
		}
		return out
	}
	return corev1.ResourceRequirements{Requests: list(req), Limits: list(lim)}
}

func TestDefaultResources(t *testing.T) {
	opts := map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}, "limits": map[string]any{"memory": "256Mi"}}
	cases := []struct {
		name               string
		in                 corev1.ResourceRequirements
		wantReq, wantLimit map[string]string
	}{
		{"nothing set: defaults", resources(nil, nil), map[string]string{"cpu": "100m", "memory": "128Mi"}, map[string]string{"memory": "256Mi"}},
		{"user values kept", resources(map[string]string{"cpu": "1", "memory": "200Mi"}, map[string]string{"memory": "300Mi"}),
			map[string]string{"cpu": "1", "memory": "200Mi"}, map[string]string{"memory": "300Mi"}},
		{"a limit without a request sets the request to the limit", resources(nil, map[string]string{"memory": "64Mi", "cpu": "50m"}),
			map[string]string{"cpu": "50m", "memory": "64Mi"}, map[string]string{"memory": "64Mi", "cpu": "50m"}},
		{"a request above the default limit raises the limit", resources(map[string]string{"memory": "1Gi"}, nil),
			map[string]string{"cpu": "100m", "memory": "1Gi"}, map[string]string{"memory": "1Gi"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := chain(t, map[string]config.Mutation{"cost-tags": {Enabled: false}, "default-resources": {Enabled: true, Options: opts}})
			p := pod(nil)
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "i", Resources: tc.in}}
			p.Spec.Containers[0].Resources = tc.in
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "d"}}}
			got, _, _ := apply(t, c, p, Context{})
			for _, ctr := range []corev1.Container{got.Spec.InitContainers[0], got.Spec.Containers[0]} {
				for k, v := range tc.wantReq {
					if q := ctr.Resources.Requests[corev1.ResourceName(k)]; q.Cmp(resource.MustParse(v)) != 0 {
						t.Errorf("%s: request %s = %s, want %s", ctr.Name, k, q.String(), v)
					}
				}
				for k, v := range tc.wantLimit {
					if q := ctr.Resources.Limits[corev1.ResourceName(k)]; q.Cmp(resource.MustParse(v)) != 0 {
						t.Errorf("%s: limit %s = %s, want %s", ctr.Name, k, q.String(), v)
					}
				}
				if len(ctr.Resources.Requests) != len(tc.wantReq) || len(ctr.Resources.Limits) != len(tc.wantLimit) {
					t.Errorf("%s: resources %v, want requests %v limits %v", ctr.Name, ctr.Resources, tc.wantReq, tc.wantLimit)
				}
			}
			if r := got.Spec.EphemeralContainers[0].Resources; len(r.Requests)+len(r.Limits) != 0 {
				t.Errorf("ephemeral container got resources %v", r)
			}
			if _, n, _ := apply(t, c, got, Context{}); n != 0 {
				t.Errorf("second run produced %d patch operations; want none", n)
			}
		})
	}
}

func TestDefaultResourcesRefusesBadOptions(t *testing.T) {
	for name, opts := range map[string]map[string]any{
		"not a quantity":          {"requests": map[string]any{"cpu": "lots"}, "limits": map[string]any{}},
		"request above the limit": {"requests": map[string]any{"memory": "1Gi"}, "limits": map[string]any{"memory": "1Mi"}},
	} {
		cfg := config.Default(config.Schema{Mutations: Schema()})
		cfg.Mutations["default-resources"] = config.Mutation{Enabled: true, Options: opts}
		if _, err := NewChain(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDefaultResourcesPerNamespace(t *testing.T) {
	opts := map[string]any{
		"requests": map[string]any{"cpu": "100m"}, "limits": map[string]any{},
		"namespaces": []any{map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"env": "prod"}},
			"requests": map[string]any{"cpu": "500m"}, "limits": map[string]any{"memory": "1Gi"},
		}},
	}
	c := chain(t, map[string]config.Mutation{"default-resources": {Enabled: true, Options: opts}})
	prod, _, _ := apply(t, c, pod(nil), Context{NamespaceLabels: map[string]string{"env": "prod"}})
	if r := prod.Spec.Containers[0].Resources; r.Requests.Cpu().String() != "500m" || r.Limits.Memory().String() != "1Gi" {
		t.Errorf("prod namespace: %+v", r)
	}
	dev, _, _ := apply(t, c, pod(nil), Context{NamespaceLabels: map[string]string{"env": "dev"}})
	if r := dev.Spec.Containers[0].Resources; r.Requests.Cpu().String() != "100m" || len(r.Limits) != 0 {
		t.Errorf("dev namespace: %+v", r)
	}
	for name, bad := range map[string]any{
		"no selector":  map[string]any{"requests": map[string]any{"cpu": "1"}},
		"unknown key":  map[string]any{"selector": map[string]any{}, "limit": map[string]any{}},
		"bad quantity": map[string]any{"selector": map[string]any{}, "requests": map[string]any{"cpu": "x"}},
		"bad selector": map[string]any{"selector": map[string]any{"matchExpressions": []any{map[string]any{"key": "a", "operator": "Near"}}}},
	} {
		cfg := config.Default(config.Schema{Mutations: Schema()})
		cfg.Mutations["default-resources"] = config.Mutation{Enabled: true, Options: map[string]any{"requests": map[string]any{}, "limits": map[string]any{}, "namespaces": []any{bad}}}
		if _, err := NewChain(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
