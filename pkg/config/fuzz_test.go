package config_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/microguard/microguard/pkg/config"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"# comment only\n",
		"---\n",
		fullConfig,
		"apiVersion: microguard.io/v1alpha1\nkind: Config\n",
		"policies:\n  owner-labels:\n    action: warn\n    labels: [owner, team]\n",
		"policies:\n  pod-security: {action: audit, level: baseline}\n",
		"policies:\n  replica-limits:\n    max: 3\n    selector: {tier: db}\n    message: hi\n",
		"policies:\n  image-signature:\n    action: off\n    keys: [a]\n",
		"policies:\n  image-signature:\n    action: deny\n",
		"mutations:\n  cost-tags:\n    enabled: false\n    labels: [env]\n",
		"mutations:\n  add-sidecar: {enabled: false}\n",
		"mutations:\n  cost-tags:\n    enabled: \"yes\"\n",
		"exemptions:\n  namespaces: [a, b]\n  usernames: [u]\n  groups: [g]\n",
		"exemptions:\n  namespaces: kube-system\n",
		"policies:\n  owner-labels:\n    lables: [owner]\n",
		"policies:\n  owner-labels:\n    labels: [owner, 3]\n",
		"policies:\n  pod-security:\n    level: privileged\n",
		"policies:\n  replica-limits:\n    max: 18446744073709551615\n",
		"policies: [owner-labels]\n",
		"policies:\n  owner-labels: [deny\n",
		"policies: {}\npolicies: {}\n",
		"a: &a [*a]\n",
		"x: &x {y: *x}\npolicies: *x\n",
		"policies:\n  owner-labels:\n    labels: &l [a, b]\nexemptions:\n  groups: *l\n",
		"kind: Config\n---\nkind: Config\n",
		"? [a, b]\n: c\n",
		"policies:\n  ? {a: b}\n  : {action: off}\n",
		"- 1\n- 2\n",
		"\"\\u0000\"\n",
		"!!binary aGVsbG8=\n",
	} {
		f.Add([]byte(seed))
	}
	schema := testSchema()
	actions := []config.Action{config.Deny, config.Warn, config.Audit, config.Off}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.yaml", data, schema)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a config with its error %v", err)
			}
			var e *config.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *config.Error", err, err)
			}
			if e.File != "fuzz.yaml" {
				t.Fatalf("error File = %q, want fuzz.yaml", e.File)
			}
			if e.Msg == "" {
				t.Fatalf("error %v has no message", err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("Error() = %q does not start with the file name", err.Error())
			}
			return
		}
		if c == nil {
			t.Fatal("Parse returned neither a config nor an error")
		}
		if !strings.HasPrefix(c.Digest, "sha256:") {
			t.Fatalf("Digest = %q", c.Digest)
		}
		for _, spec := range schema.Policies {
			p, ok := c.Policies[spec.ID]
			if !ok {
				t.Fatalf("policy %s missing from %#v", spec.ID, c.Policies)
			}
			if !slices.Contains(actions, p.Action) {
				t.Fatalf("policy %s has action %q", spec.ID, p.Action)
			}
			checkOptions(t, spec, p.Options)
		}
		if len(c.Policies) != len(schema.Policies) {
			t.Fatalf("Policies has entries the schema does not declare: %#v", c.Policies)
		}
		for _, spec := range schema.Mutations {
			m, ok := c.Mutations[spec.ID]
			if !ok {
				t.Fatalf("mutation %s missing from %#v", spec.ID, c.Mutations)
			}
			checkOptions(t, spec, m.Options)
		}
		if len(c.Mutations) != len(schema.Mutations) {
			t.Fatalf("Mutations has entries the schema does not declare: %#v", c.Mutations)
		}
		ex := c.Exemptions
		for _, list := range [][]string{ex.Namespaces, ex.Usernames, ex.Groups} {
			if slices.Contains(list, "") {
				t.Fatalf("exemptions hold an empty name: %#v", ex)
			}
		}
	})
}

// checkOptions asserts that opts holds exactly the spec's options, each in the
// form policies see.
func checkOptions(t *testing.T, spec config.Spec, opts map[string]any) {
	t.Helper()
	if len(opts) != len(spec.Options) {
		t.Fatalf("%s: options %#v, want exactly %d", spec.ID, opts, len(spec.Options))
	}
	for name, o := range spec.Options {
		v, ok := opts[name]
		if !ok {
			t.Fatalf("%s: option %s missing", spec.ID, name)
		}
		switch o.Type {
		case config.String:
			s, ok := v.(string)
			if !ok || (len(o.Enum) > 0 && !slices.Contains(o.Enum, s)) {
				t.Fatalf("%s: option %s = %#v", spec.ID, name, v)
			}
		case config.Bool:
			if _, ok := v.(bool); !ok {
				t.Fatalf("%s: option %s = %#v", spec.ID, name, v)
			}
		case config.Int:
			if _, ok := v.(int64); !ok {
				t.Fatalf("%s: option %s = %#v", spec.ID, name, v)
			}
		case config.StringList:
			l, ok := v.([]any)
			if !ok {
				t.Fatalf("%s: option %s = %#v", spec.ID, name, v)
			}
			for _, it := range l {
				if s, ok := it.(string); !ok || s == "" {
					t.Fatalf("%s: option %s = %#v", spec.ID, name, v)
				}
			}
		case config.StringMap:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%s: option %s = %#v", spec.ID, name, v)
			}
			for _, it := range m {
				if _, ok := it.(string); !ok {
					t.Fatalf("%s: option %s = %#v", spec.ID, name, v)
				}
			}
		default:
			t.Fatalf("%s: option %s has type %q", spec.ID, name, o.Type)
		}
	}
}
