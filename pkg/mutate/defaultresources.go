package mutate

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/microguard/microguard/pkg/config"
)

// defaultResources fills missing requests and limits of every container and
// init container with LimitRange semantics: a limit without a request sets
// the request to that limit; a request above the default limit is kept and
// the limit raised to it; a value the user set is never changed. Ephemeral
// containers are left alone: the API forbids resources there.
type defaultResources struct {
	requests, limits corev1.ResourceList
}

var defaultResourcesFactory = Factory{
	Spec: config.Spec{ID: "default-resources", Options: map[string]config.Option{
		"requests": {Type: config.StringMap, Default: map[string]any{"cpu": "100m", "memory": "128Mi"},
			Description: "requests given to containers that set none, by resource name"},
		"limits": {Type: config.StringMap, Default: map[string]any{"memory": "256Mi"},
			Description: "limits given to containers that set none, by resource name"},
	}},
	New: func(o map[string]any) (Mutator, error) {
		m := &defaultResources{}
		var err error
		if m.requests, err = quantities("requests", o["requests"].(map[string]any)); err != nil {
			return nil, err
		}
		if m.limits, err = quantities("limits", o["limits"].(map[string]any)); err != nil {
			return nil, err
		}
		for name, req := range m.requests {
			if lim, ok := m.limits[name]; ok && req.Cmp(lim) > 0 {
				return nil, fmt.Errorf("requests.%s (%s) is above limits.%s (%s)", name, req.String(), name, lim.String())
			}
		}
		return m, nil
	},
}

func quantities(key string, in map[string]any) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for name, v := range in {
		q, err := resource.ParseQuantity(v.(string))
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %q is not a quantity: %w", key, name, v, err)
		}
		out[corev1.ResourceName(name)] = q
	}
	return out, nil
}

func (m *defaultResources) Mutate(pod *corev1.Pod, _ Context) (bool, error) {
	changed := false
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if m.fill(&list[i].Resources) {
				changed = true
			}
		}
	}
	return changed, nil
}

func (m *defaultResources) fill(r *corev1.ResourceRequirements) bool {
	names := slices.Sorted(maps.Keys(m.requests))
	for name := range m.limits {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	changed := false
	for _, name := range names {
		req, hasReq := r.Requests[name]
		lim, hasLim := r.Limits[name]
		if !hasReq {
			switch def, ok := m.requests[name]; {
			case hasLim: // a limit without a request: the request is the limit
				req, hasReq = lim.DeepCopy(), true
			case ok:
				req, hasReq = def.DeepCopy(), true
			}
			if hasReq {
				r.Requests = set(r.Requests, name, req)
				changed = true
			}
		}
		if !hasLim {
			if def, ok := m.limits[name]; ok {
				if hasReq && req.Cmp(def) > 0 {
					def = req // a request above the default limit raises the limit
				}
				r.Limits = set(r.Limits, name, def.DeepCopy())
				changed = true
			}
		}
	}
	return changed
}

func set(l corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) corev1.ResourceList {
	if l == nil {
		l = corev1.ResourceList{}
	}
	l[name] = q
	return l
}
