package chart

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/mutate"
	"github.com/microguard/microguard/pkg/policy"
	"github.com/microguard/microguard/pkg/review"
	"github.com/microguard/microguard/policies"
)

func readSchema(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartDir(t), "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	return s
}

// openMaps are the schema objects that are maps by design: custom policy
// ids, and a custom policy's options (checked by microguard at start).
var openMaps = []string{"properties.config.properties.policies", "properties.config.properties.policies.additionalProperties"}

// TestSchemaIsStrict: every object schema that lists properties rejects
// any other key.
func TestSchemaIsStrict(t *testing.T) {
	var walk func(at string, n any)
	walk = func(at string, n any) {
		switch v := n.(type) {
		case map[string]any:
			if _, ok := v["properties"]; ok && !slices.Contains(openMaps, at) {
				if ap, ok := v["additionalProperties"]; !ok || ap != false {
					t.Errorf("%s: properties without additionalProperties: false", at)
				}
			}
			for k, c := range v {
				walk(strings.TrimPrefix(at+"."+k, "."), c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s[%d]", at, i), c)
			}
		}
	}
	walk("", readSchema(t))
}

// TestSchemaMatchesTheBinaryConfig: the schema of values.config lists
// exactly the policies and mutations the binary implements, each with
// exactly its options and their types, so a new option or policy in the
// binary fails here until the chart knows it.
func TestSchemaMatchesTheBinaryConfig(t *testing.T) {
	b, err := policy.LoadBundle(policies.FS)
	if err != nil {
		t.Fatal(err)
	}
	s := readSchema(t)
	cfg := path(s, "properties", "config", "properties").(map[string]any)
	check := func(kind, switchKey string, specs []config.Spec) {
		props, _ := path(cfg, kind, "properties").(map[string]any)
		var ids []string
		for _, spec := range specs {
			ids = append(ids, spec.ID)
			got, ok := props[spec.ID].(map[string]any)
			if !ok {
				t.Errorf("values.schema.json: config.%s has no %s", kind, spec.ID)
				continue
			}
			gotOpts, _ := got["properties"].(map[string]any)
			want := []string{switchKey}
			for name, opt := range spec.Options {
				want = append(want, name)
				os, ok := gotOpts[name].(map[string]any)
				if !ok {
					continue
				}
				if typ := schemaType(opt.Type); os["type"] != typ {
					t.Errorf("config.%s.%s.%s: schema type %v, the binary's is %s (%s)", kind, spec.ID, name, os["type"], opt.Type, typ)
				}
				if len(opt.Enum) > 0 {
					var enum []string
					for _, e := range os["enum"].([]any) {
						enum = append(enum, e.(string))
					}
					if !slices.Equal(enum, opt.Enum) {
						t.Errorf("config.%s.%s.%s: schema enum %v, the binary's %v", kind, spec.ID, name, enum, opt.Enum)
					}
				}
				if opt.Pattern != "" && os["pattern"] != opt.Pattern {
					t.Errorf("config.%s.%s.%s: schema pattern %v, the binary's %q", kind, spec.ID, name, os["pattern"], opt.Pattern)
				}
			}
			var have []string
			for k := range gotOpts {
				have = append(have, k)
			}
			slices.Sort(want)
			slices.Sort(have)
			if !slices.Equal(want, have) {
				t.Errorf("values.schema.json config.%s.%s has keys %v; the binary's are %v", kind, spec.ID, have, want)
			}
		}
		for id := range props {
			if !slices.Contains(ids, id) {
				t.Errorf("values.schema.json config.%s.%s: the binary implements no such %s", kind, id, kind)
			}
		}
	}
	check("policies", "action", append(b.Schema(), config.Spec{ID: review.MutationsApplied}))
	check("mutations", "enabled", mutate.Schema())
}

func schemaType(t config.OptionType) string {
	switch t {
	case config.String:
		return "string"
	case config.Bool:
		return "boolean"
	case config.Int:
		return "integer"
	case config.StringList, config.ObjectList:
		return "array"
	default:
		return "object"
	}
}
