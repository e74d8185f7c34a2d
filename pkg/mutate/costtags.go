package mutate

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/microguard/microguard/pkg/config"
)

// costTags copies cost-allocation labels from the pod's namespace onto the
// pod when the pod lacks them, with configured defaults for labels no
// namespace carries. A value the user set is never overwritten.
type costTags struct {
	labels   []string
	defaults map[string]string
}

var costTagsFactory = Factory{
	Spec: config.Spec{ID: "cost-tags", Options: map[string]config.Option{
		"labels": {Type: config.StringList, Default: []any{"owner", "team", "cost-center", "env"},
			Description: "label keys copied from the namespace onto its pods"},
		"defaults": {Type: config.StringMap, Default: map[string]any{},
			Description: "values for labels that neither the pod nor its namespace carries"},
	}},
	New: func(o map[string]any) (Mutator, error) {
		m := &costTags{defaults: map[string]string{}}
		for _, l := range o["labels"].([]any) {
			m.labels = append(m.labels, l.(string))
		}
		for k, v := range o["defaults"].(map[string]any) {
			m.defaults[k] = v.(string)
		}
		for k := range m.defaults {
			if !slices.Contains(m.labels, k) {
				return nil, fmt.Errorf("defaults.%s: not one of labels %v", k, m.labels)
			}
		}
		return m, nil
	},
}

func (m *costTags) Mutate(pod *corev1.Pod, c Context) (bool, error) {
	changed := false
	for _, key := range m.labels {
		if pod.Labels[key] != "" {
			continue
		}
		v := c.NamespaceLabels[key]
		if v == "" {
			v = m.defaults[key]
		}
		if v == "" {
			continue
		}
		if pod.Labels == nil {
			pod.Labels = map[string]string{}
		}
		pod.Labels[key] = v
		changed = true
	}
	return changed, nil
}
