package mutate

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/microguard/microguard/pkg/config"
)

// defaultResources fills missing requests and limits of every container and
// init container with LimitRange semantics: a limit without a request sets
// the request to that limit; a request above the default limit is kept and
// the limit raised to it; a value the user set is never changed. Ephemeral
// containers are left alone: the API forbids resources there.
type defaultResources struct {
	requests, limits corev1.ResourceList
	names            []corev1.ResourceName // in requests or limits
	// overrides replace requests and limits in the namespaces their
	// selector matches; the first match wins.
	overrides []resourceOverride
}

type resourceOverride struct {
	selector         labels.Selector
	requests, limits corev1.ResourceList
	names            []corev1.ResourceName
}

var defaultResourcesFactory = Factory{
	Spec: config.Spec{ID: "default-resources", Options: map[string]config.Option{
		"requests": {Type: config.StringMap, Default: map[string]any{"cpu": "100m", "memory": "128Mi"},
			Description: "requests given to containers that set none, by resource name"},
		"limits": {Type: config.StringMap, Default: map[string]any{"memory": "256Mi"},
			Description: "limits given to containers that set none, by resource name"},
		"namespaces": {Type: config.ObjectList, Default: []any{},
			Description: "per-namespace defaults: [{selector: {matchLabels: {env: prod}}, requests: {...}, limits: {...}}], the first match wins"},
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
		if err := consistent("", m.requests, m.limits); err != nil {
			return nil, err
		}
		m.names = resourceNames(m.requests, m.limits)
		overrides, _ := o["namespaces"].([]any)
		for i, raw := range overrides {
			ov, err := override(fmt.Sprintf("namespaces[%d]", i), raw.(map[string]any))
			if err != nil {
				return nil, err
			}
			m.overrides = append(m.overrides, ov)
		}
		return m, nil
	},
}

func consistent(prefix string, requests, limits corev1.ResourceList) error {
	for name, req := range requests {
		if lim, ok := limits[name]; ok && req.Cmp(lim) > 0 {
			return fmt.Errorf("%srequests.%s (%s) is above %slimits.%s (%s)", prefix, name, req.String(), prefix, name, lim.String())
		}
	}
	return nil
}

func override(key string, raw map[string]any) (resourceOverride, error) {
	var ov resourceOverride
	for k := range raw {
		if k != "selector" && k != "requests" && k != "limits" {
			return ov, fmt.Errorf("%s.%s: unknown key (known keys: limits, requests, selector)", key, k)
		}
	}
	data, err := json.Marshal(raw["selector"])
	if err != nil {
		return ov, err
	}
	var sel metav1.LabelSelector
	if err := json.Unmarshal(data, &sel); err != nil || raw["selector"] == nil {
		return ov, fmt.Errorf("%s.selector: expected a label selector (matchLabels, matchExpressions)", key)
	}
	if ov.selector, err = metav1.LabelSelectorAsSelector(&sel); err != nil {
		return ov, fmt.Errorf("%s.selector: %w", key, err)
	}
	for field, dst := range map[string]*corev1.ResourceList{"requests": &ov.requests, "limits": &ov.limits} {
		m, ok := raw[field].(map[string]any)
		if raw[field] != nil && !ok {
			return ov, fmt.Errorf("%s.%s: expected a map of quantities", key, field)
		}
		if *dst, err = quantities(key+"."+field, m); err != nil {
			return ov, err
		}
	}
	ov.names = resourceNames(ov.requests, ov.limits)
	return ov, consistent(key+".", ov.requests, ov.limits)
}

// resourceNames are the names in requests or limits, sorted: computed once,
// not for every container.
func resourceNames(requests, limits corev1.ResourceList) []corev1.ResourceName {
	names := slices.Collect(maps.Keys(requests))
	for name := range limits {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func quantities(key string, in map[string]any) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for name, v := range in {
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("%s.%s: expected a quantity string", key, name)
		}
		q, err := resource.ParseQuantity(v.(string))
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %q is not a quantity: %w", key, name, v, err)
		}
		out[corev1.ResourceName(name)] = q
	}
	return out, nil
}

func (m *defaultResources) Mutate(pod *corev1.Pod, c Context) (bool, error) {
	requests, limits, names := m.requests, m.limits, m.names
	for _, ov := range m.overrides {
		if ov.selector.Matches(labels.Set(c.NamespaceLabels)) {
			requests, limits, names = ov.requests, ov.limits, ov.names
			break
		}
	}
	changed := false
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if fill(&list[i].Resources, requests, limits, names) {
				changed = true
			}
		}
	}
	return changed, nil
}

func fill(r *corev1.ResourceRequirements, requests, limits corev1.ResourceList, names []corev1.ResourceName) bool {
	changed := false
	for _, name := range names {
		req, hasReq := r.Requests[name]
		lim, hasLim := r.Limits[name]
		if !hasReq {
			switch def, ok := requests[name]; {
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
			if def, ok := limits[name]; ok {
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
