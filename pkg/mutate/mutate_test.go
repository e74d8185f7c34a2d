package mutate

import (
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/microguard/microguard/pkg/config"
)

func chain(t *testing.T, mutations map[string]config.Mutation) *Chain {
	t.Helper()
	// Only the named mutators run, each with its defaults unless given.
	cfg := config.Default(config.Schema{Mutations: Schema()})
	for id, m := range cfg.Mutations {
		cfg.Mutations[id] = config.Mutation{Enabled: false, Options: m.Options}
	}
	for id, m := range mutations {
		if m.Options == nil {
			m.Options = cfg.Mutations[id].Options
		}
		cfg.Mutations[id] = m
	}
	c, err := NewChain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pod(labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop", Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
	}
}

// apply runs the chain and applies its patch to the pod's JSON, as the API
// server would.
func apply(t *testing.T, c *Chain, p *corev1.Pod, mc Context) (*corev1.Pod, int, []string) {
	t.Helper()
	raw := rawPod(t, p)
	ops, applied, err := c.Apply(raw, p, mc)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) == 0 {
		return p, 0, applied
	}
	patchJSON, _ := json.Marshal(ops)
	patch, err := jsonpatch.DecodePatch(patchJSON)
	if err != nil {
		t.Fatalf("patch does not decode: %v", err)
	}
	out, err := patch.Apply(raw)
	if err != nil {
		t.Fatalf("patch does not apply: %v\n%s", err, patchJSON)
	}
	got := &corev1.Pod{}
	if err := json.Unmarshal(out, got); err != nil {
		t.Fatal(err)
	}
	return got, len(ops), applied
}

func TestCostTags(t *testing.T) {
	nsLabels := map[string]string{"owner": "ana", "team": "food", "cost-center": "cc-42", "unrelated": "x"}
	cases := []struct {
		name     string
		pod      map[string]string
		ns       map[string]string
		defaults map[string]any
		want     map[string]string
		applied  bool
	}{
		{"copies the namespace's cost labels", nil, nsLabels, nil,
			map[string]string{"owner": "ana", "team": "food", "cost-center": "cc-42"}, true},
		{"never overwrites a value the user set", map[string]string{"owner": "bob"}, nsLabels, nil,
			map[string]string{"owner": "bob", "team": "food", "cost-center": "cc-42"}, true},
		{"defaults fill labels no namespace carries", nil, map[string]string{"owner": "ana"}, map[string]any{"env": "dev", "owner": "ops"},
			map[string]string{"owner": "ana", "env": "dev"}, true},
		{"nothing to copy leaves the pod alone", map[string]string{"app": "x"}, map[string]string{"unrelated": "x"}, nil,
			map[string]string{"app": "x"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := map[string]any{"labels": []any{"owner", "team", "cost-center", "env"}, "defaults": map[string]any{}}
			if tc.defaults != nil {
				opts["defaults"] = tc.defaults
			}
			c := chain(t, map[string]config.Mutation{"cost-tags": {Enabled: true, Options: opts}, "default-resources": {Enabled: false}})
			mc := Context{Namespace: "shop", NamespaceLabels: tc.ns}
			got, n, applied := apply(t, c, pod(tc.pod), mc)
			for k, v := range tc.want {
				if got.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, got.Labels[k], v)
				}
			}
			if _, ok := got.Labels["unrelated"]; ok {
				t.Error("copied a label that is not a cost label")
			}
			if tc.applied != (n > 0) || tc.applied != (len(applied) == 1) {
				t.Fatalf("patch ops %d, applied %v; want changed=%v", n, applied, tc.applied)
			}
			if tc.applied && got.Annotations[MutationsAnnotation] != "cost-tags" {
				t.Errorf("annotation %s = %q, want cost-tags", MutationsAnnotation, got.Annotations[MutationsAnnotation])
			}
			// Idempotent: mutating the output again changes nothing.
			if _, n2, _ := apply(t, c, got, mc); n2 != 0 {
				t.Errorf("second run produced %d patch operations; want none", n2)
			}
		})
	}
}

func TestDisabledMutatorDoesNothing(t *testing.T) {
	c := chain(t, map[string]config.Mutation{"cost-tags": {Enabled: false}, "default-resources": {Enabled: false}})
	if c.Len() != 0 {
		t.Fatalf("%d mutators enabled; want 0", c.Len())
	}
	_, n, _ := apply(t, c, pod(nil), Context{NamespaceLabels: map[string]string{"owner": "ana"}})
	if n != 0 {
		t.Fatalf("disabled chain patched %d ops", n)
	}
}

func TestCostTagsRejectsDefaultsOutsideLabels(t *testing.T) {
	cfg := config.Default(config.Schema{Mutations: Schema()})
	cfg.Mutations["cost-tags"] = config.Mutation{Enabled: true, Options: map[string]any{"labels": []any{"owner"}, "defaults": map[string]any{"team": "x"}}}
	if _, err := NewChain(cfg); err == nil {
		t.Fatal("want an error for a default outside labels")
	}
}

func TestAnnotationKeepsEarlierMutations(t *testing.T) {
	p := pod(nil)
	p.Annotations = map[string]string{MutationsAnnotation: "opentelemetry"}
	record(p, []string{"cost-tags"})
	if got := p.Annotations[MutationsAnnotation]; got != "cost-tags,opentelemetry" {
		t.Fatalf("annotation = %q", got)
	}
}

func BenchmarkChainCostTags(b *testing.B) {
	cfg := config.Default(config.Schema{Mutations: Schema()})
	c, err := NewChain(cfg)
	if err != nil {
		b.Fatal(err)
	}
	p := pod(map[string]string{"app": "menu"})
	raw := rawPod(b, p)
	mc := Context{NamespaceLabels: map[string]string{"owner": "ana", "team": "food", "cost-center": "cc", "env": "prod"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Apply(raw, p, mc); err != nil {
			b.Fatal(err)
		}
	}
}

// rawPod is the pod as a client would send it: without the empty parents
// (resources: {}, creationTimestamp: null) that a typed encoding adds.
func rawPod(tb testing.TB, p *corev1.Pod) []byte {
	tb.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		tb.Fatal(err)
	}
	prune(m)
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// prune drops empty maps and nulls, recursively.
func prune(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		for k, x := range t {
			if prune(x) {
				delete(t, k)
			}
		}
		return len(t) == 0
	case []any:
		for _, x := range t {
			prune(x)
		}
	}
	return false
}
