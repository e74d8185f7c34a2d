package chart

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// values are the chart's values.yaml with a values file merged over them
// the way helm merges: maps key by key, anything else replaced, null deletes.
func values(t testing.TB, file string) map[string]any {
	t.Helper()
	base := readYAML(t, filepath.Join(chartDir(t), "values.yaml"))
	if file != "" {
		merge(base, readYAML(t, file))
	}
	return base
}

func readYAML(t testing.TB, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return m
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]any)
		dm, dok := dst[k].(map[string]any)
		if sok && dok {
			merge(dm, sm)
			continue
		}
		dst[k] = v
	}
}

func str(m map[string]any, keys ...string) string {
	s, _ := path(m, keys...).(string)
	return s
}

func num(m map[string]any, keys ...string) int {
	f, _ := path(m, keys...).(float64)
	return int(f)
}

func boolean(m map[string]any, keys ...string) bool {
	b, _ := path(m, keys...).(bool)
	return b
}

func stringList(m map[string]any, keys ...string) []string {
	var out []string
	list, _ := path(m, keys...).([]any)
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}
