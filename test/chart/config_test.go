package chart

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/microguard/microguard/pkg/review"
	"github.com/microguard/microguard/policies"
)

// renderedConfig is config.yaml of the rendered ConfigMap.
func renderedConfig(t *testing.T, r *rendered) map[string]any {
	t.Helper()
	data := configData(t, r)
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("config.yaml: %v\n%s", err, data)
	}
	return m
}

func configData(t *testing.T, r *rendered) string {
	t.Helper()
	var cm corev1.ConfigMap
	r.named("ConfigMap", release, &cm)
	data, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no config.yaml", cm.Name)
	}
	return data
}

// TestConfigIsAcceptedByMicroguard reads the rendered config file of every
// values set with microguard's own start-up code (review.PrepareWith: the
// config checked against the embedded bundle and mutators, policies
// compiled), so a config the chart renders is one microguard starts with.
func TestConfigIsAcceptedByMicroguard(t *testing.T) {
	for _, file := range valueSets(t) {
		t.Run(setName(file), func(t *testing.T) {
			t.Parallel()
			r := render(t, file)
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(configData(t, r)), 0o600); err != nil {
				t.Fatal(err)
			}
			setup, err := review.PrepareWith(context.Background(), policies.FS, review.Options{Config: path})
			if err != nil {
				t.Fatalf("microguard would not start with the rendered config: %v\n%s", err, configData(t, r))
			}
			for _, w := range setup.Config.Warnings {
				t.Errorf("config warning: %s", w)
			}
		})
	}
}
