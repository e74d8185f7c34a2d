package config_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/microguard/microguard/pkg/config"
)

// testSchema is a small schema shaped like the real one: two policies with
// list, bool and enum options, one policy with int, map and free string
// options, and one mutation.
func testSchema() config.Schema {
	return config.Schema{
		Policies: []config.Spec{
			{ID: "owner-labels", DefaultAction: config.Deny, Options: map[string]config.Option{
				"labels":               {Type: config.StringList, Default: []any{"owner"}, Description: "x"},
				"inheritFromNamespace": {Type: config.Bool, Default: false, Description: "x"},
			}},
			{ID: "pod-security", DefaultAction: config.Deny, Options: map[string]config.Option{
				"level": {Type: config.String, Default: "restricted", Enum: []string{"restricted", "baseline"}, Description: "x"},
			}},
			{ID: "replica-limits", DefaultAction: config.Warn, Options: map[string]config.Option{
				"max":      {Type: config.Int, Default: 10, Description: "x"},
				"selector": {Type: config.StringMap, Default: map[string]any{"tier": "web"}, Description: "x"},
				"message":  {Type: config.String, Description: "x"},
			}},
		},
		Mutations: []config.Spec{
			{ID: "cost-tags", Options: map[string]config.Option{
				"labels": {Type: config.StringList, Default: []any{"owner"}, Description: "x"},
			}},
		},
	}
}

// defaultPolicies is what Default(testSchema()) must hold.
func defaultPolicies() map[string]config.Policy {
	return map[string]config.Policy{
		"owner-labels": {Action: config.Deny, Options: map[string]any{
			"labels": []any{"owner"}, "inheritFromNamespace": false,
		}},
		"pod-security": {Action: config.Deny, Options: map[string]any{"level": "restricted"}},
		"replica-limits": {Action: config.Warn, Options: map[string]any{
			"max": int64(10), "selector": map[string]any{"tier": "web"}, "message": "",
		}},
	}
}

func defaultMutations() map[string]config.Mutation {
	return map[string]config.Mutation{
		"cost-tags": {Enabled: true, Options: map[string]any{"labels": []any{"owner"}}},
	}
}

func TestSchemaIsValid(t *testing.T) {
	s := testSchema()
	for _, spec := range append(s.Policies, s.Mutations...) {
		if err := spec.Validate(); err != nil {
			t.Errorf("test schema spec %s: %v", spec.ID, err)
		}
	}
}

func TestDefault(t *testing.T) {
	c := config.Default(testSchema())
	if !reflect.DeepEqual(c.Policies, defaultPolicies()) {
		t.Errorf("Policies = %#v\nwant %#v", c.Policies, defaultPolicies())
	}
	if !reflect.DeepEqual(c.Mutations, defaultMutations()) {
		t.Errorf("Mutations = %#v\nwant %#v", c.Mutations, defaultMutations())
	}
	want := config.Exemptions{Namespaces: []string{"kube-system", "kube-node-lease"}}
	if !reflect.DeepEqual(c.Exemptions, want) {
		t.Errorf("Exemptions = %#v, want %#v", c.Exemptions, want)
	}
	if c.Digest != "" {
		t.Errorf("Digest = %q, want empty for built-in defaults", c.Digest)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", c.Warnings)
	}
}

func TestDefaultEmptySchema(t *testing.T) {
	c := config.Default(config.Schema{})
	if c.Policies == nil || c.Mutations == nil {
		t.Fatalf("Default of an empty schema must give non-nil maps, got %#v", c)
	}
	if len(c.Policies) != 0 || len(c.Mutations) != 0 {
		t.Errorf("Default of an empty schema = %#v, want no policies or mutations", c)
	}
}

// TestDefaultIsACopy checks that a caller changing one config's values does
// not change the schema's defaults, the package defaults or another config.
func TestDefaultIsACopy(t *testing.T) {
	s := testSchema()
	a := config.Default(s)
	a.Exemptions.Namespaces[0] = "changed"
	a.Policies["owner-labels"].Options["labels"].([]any)[0] = "changed"
	a.Policies["replica-limits"].Options["selector"].(map[string]any)["tier"] = "changed"
	a.Mutations["cost-tags"].Options["labels"].([]any)[0] = "changed"

	if got := config.DefaultExemptedNamespaces[0]; got != "kube-system" {
		t.Errorf("DefaultExemptedNamespaces[0] = %q after changing a config", got)
	}
	if got := s.Policies[0].Options["labels"].Default.([]any)[0]; got != "owner" {
		t.Errorf("schema default labels[0] = %q after changing a config", got)
	}
	if got := s.Policies[2].Options["selector"].Default.(map[string]any)["tier"]; got != "web" {
		t.Errorf("schema default selector.tier = %q after changing a config", got)
	}
	b := config.Default(s)
	if !reflect.DeepEqual(b.Policies, defaultPolicies()) || !reflect.DeepEqual(b.Mutations, defaultMutations()) {
		t.Errorf("second Default changed by the first: %#v %#v", b.Policies, b.Mutations)
	}
	p, err := config.Parse("c.yaml", nil, s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Policies, defaultPolicies()) {
		t.Errorf("Parse changed by an earlier Default: %#v", p.Policies)
	}
}

func TestParseEmptyGivesDefaults(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"nil", ""},
		{"blank lines", "\n\n   \n"},
		{"comment only", "# microguard config\n# nothing set yet\n"},
		{"document marker only", "---\n"},
		{"document marker with comment", "--- # microguard\n"},
		{"null document", "~\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var data []byte
			if tc.in != "" {
				data = []byte(tc.in)
			}
			c, err := config.Parse("c.yaml", data, testSchema())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := config.Default(testSchema())
			sum := sha256.Sum256(data)
			want.Digest = "sha256:" + hex.EncodeToString(sum[:])
			want.File = "c.yaml"
			if !reflect.DeepEqual(c, want) {
				t.Errorf("Parse(%q) = %#v\nwant %#v", tc.in, c, want)
			}
		})
	}
}

const fullConfig = `# a complete configuration
apiVersion: microguard.io/v1alpha1
kind: Config
policies:
  owner-labels:
    action: warn
    labels: [owner, team]
    inheritFromNamespace: true
  pod-security:
    action: audit
    level: baseline
  replica-limits:
    action: "off"
    max: 3
    selector:
      tier: db
      zone: eu
    message: too many replicas
mutations:
  cost-tags:
    enabled: false
    labels:
      - cost-center
exemptions:
  namespaces: [kube-system, monitoring]
  usernames: ["system:serviceaccount:ci:deployer"]
  groups:
    - system:masters
`

func TestParseFullConfig(t *testing.T) {
	c, err := config.Parse("microguard.yaml", []byte(fullConfig), testSchema())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	wantPolicies := map[string]config.Policy{
		"owner-labels": {Action: config.Warn, Options: map[string]any{
			"labels": []any{"owner", "team"}, "inheritFromNamespace": true,
		}},
		"pod-security": {Action: config.Audit, Options: map[string]any{"level": "baseline"}},
		"replica-limits": {Action: config.Off, Options: map[string]any{
			"max": int64(3), "selector": map[string]any{"tier": "db", "zone": "eu"}, "message": "too many replicas",
		}},
	}
	if !reflect.DeepEqual(c.Policies, wantPolicies) {
		t.Errorf("Policies = %#v\nwant %#v", c.Policies, wantPolicies)
	}
	wantMutations := map[string]config.Mutation{
		"cost-tags": {Enabled: false, Options: map[string]any{"labels": []any{"cost-center"}}},
	}
	if !reflect.DeepEqual(c.Mutations, wantMutations) {
		t.Errorf("Mutations = %#v\nwant %#v", c.Mutations, wantMutations)
	}
	wantEx := config.Exemptions{
		Namespaces: []string{"kube-system", "monitoring"},
		Usernames:  []string{"system:serviceaccount:ci:deployer"},
		Groups:     []string{"system:masters"},
	}
	if !reflect.DeepEqual(c.Exemptions, wantEx) {
		t.Errorf("Exemptions = %#v\nwant %#v", c.Exemptions, wantEx)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", c.Warnings)
	}
	for id, want := range map[string]bool{"owner-labels": true, "pod-security": true, "replica-limits": false, "image-signature": false} {
		if got := c.Enabled(id); got != want {
			t.Errorf("Enabled(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestParseValues is a table of small valid configs and what they set.
func TestParseValues(t *testing.T) {
	type check func(t *testing.T, c *config.Config)
	policy := func(id string, want config.Policy) check {
		return func(t *testing.T, c *config.Config) {
			t.Helper()
			if got := c.Policies[id]; !reflect.DeepEqual(got, want) {
				t.Errorf("Policies[%q] = %#v, want %#v", id, got, want)
			}
		}
	}
	mutation := func(id string, want config.Mutation) check {
		return func(t *testing.T, c *config.Config) {
			t.Helper()
			if got := c.Mutations[id]; !reflect.DeepEqual(got, want) {
				t.Errorf("Mutations[%q] = %#v, want %#v", id, got, want)
			}
		}
	}
	exemptions := func(want config.Exemptions) check {
		return func(t *testing.T, c *config.Config) {
			t.Helper()
			if !reflect.DeepEqual(c.Exemptions, want) {
				t.Errorf("Exemptions = %#v, want %#v", c.Exemptions, want)
			}
		}
	}
	noWarnings := func(t *testing.T, c *config.Config) {
		t.Helper()
		if len(c.Warnings) != 0 {
			t.Errorf("Warnings = %q, want none", c.Warnings)
		}
	}
	ownerDefaults := map[string]any{"labels": []any{"owner"}, "inheritFromNamespace": false}
	limitsWith := func(k string, v any) map[string]any {
		m := map[string]any{"max": int64(10), "selector": map[string]any{"tier": "web"}, "message": ""}
		m[k] = v
		return m
	}

	for _, tc := range []struct {
		name   string
		in     string
		checks []check
	}{
		{"apiVersion and kind may be omitted", "policies:\n  owner-labels:\n    action: audit\n", []check{
			policy("owner-labels", config.Policy{Action: config.Audit, Options: ownerDefaults}),
			policy("pod-security", config.Policy{Action: config.Deny, Options: map[string]any{"level": "restricted"}}),
			noWarnings,
		}},
		{"action alone keeps option defaults", "policies:\n  owner-labels: {action: deny}\n", []check{
			policy("owner-labels", config.Policy{Action: config.Deny, Options: ownerDefaults}),
		}},
		{"an option alone keeps the default action", "policies:\n  owner-labels:\n    labels: [team]\n", []check{
			policy("owner-labels", config.Policy{Action: config.Deny, Options: map[string]any{"labels": []any{"team"}, "inheritFromNamespace": false}}),
		}},
		{"empty policy map keeps defaults", "policies:\n  pod-security: {}\n", []check{
			policy("pod-security", config.Policy{Action: config.Deny, Options: map[string]any{"level": "restricted"}}),
		}},
		{"off unquoted is the string off", "policies:\n  pod-security:\n    action: off\n", []check{
			policy("pod-security", config.Policy{Action: config.Off, Options: map[string]any{"level": "restricted"}}),
		}},
		{"empty labels list", "policies:\n  owner-labels:\n    labels: []\n", []check{
			policy("owner-labels", config.Policy{Action: config.Deny, Options: map[string]any{"labels": []any{}, "inheritFromNamespace": false}}),
		}},
		{"null labels is an empty list", "policies:\n  owner-labels:\n    labels:\n", []check{
			policy("owner-labels", config.Policy{Action: config.Deny, Options: map[string]any{"labels": []any{}, "inheritFromNamespace": false}}),
		}},
		{"int option", "policies:\n  replica-limits:\n    max: 0\n", []check{
			policy("replica-limits", config.Policy{Action: config.Warn, Options: limitsWith("max", int64(0))}),
		}},
		{"negative int option", "policies:\n  replica-limits:\n    max: -5\n", []check{
			policy("replica-limits", config.Policy{Action: config.Warn, Options: limitsWith("max", int64(-5))}),
		}},
		{"integral float is an int", "policies:\n  replica-limits:\n    max: 4.0\n", []check{
			policy("replica-limits", config.Policy{Action: config.Warn, Options: limitsWith("max", int64(4))}),
		}},
		{"smallest int64 as a float", "policies:\n  replica-limits:\n    max: -9.223372036854775808e18\n", []check{
			policy("replica-limits", config.Policy{Action: config.Warn, Options: limitsWith("max", int64(-9223372036854775808))}),
		}},
		{"largest int64", "policies:\n  replica-limits:\n    max: 9223372036854775807\n", []check{
			policy("replica-limits", config.Policy{Action: config.Warn, Options: limitsWith("max", int64(9223372036854775807))}),
		}},
		{"empty string map", "policies:\n  replica-limits:\n    selector: {}\n", []check{
			policy("replica-limits", config.Policy{Action: config.Warn, Options: limitsWith("selector", map[string]any{})}),
		}},
		{"null string option is empty", "policies:\n  replica-limits:\n    message: ~\n", []check{
			policy("replica-limits", config.Policy{Action: config.Warn, Options: limitsWith("message", "")}),
		}},
		{"mutation enabled true", "mutations:\n  cost-tags:\n    enabled: true\n", []check{
			mutation("cost-tags", config.Mutation{Enabled: true, Options: map[string]any{"labels": []any{"owner"}}}),
		}},
		{"mutation enabled True (YAML 1.2 bool)", "mutations:\n  cost-tags:\n    enabled: True\n", []check{
			mutation("cost-tags", config.Mutation{Enabled: true, Options: map[string]any{"labels": []any{"owner"}}}),
		}},
		{"mutation enabled FALSE", "mutations:\n  cost-tags:\n    enabled: FALSE\n", []check{
			mutation("cost-tags", config.Mutation{Enabled: false, Options: map[string]any{"labels": []any{"owner"}}}),
		}},
		{"mutation options without enabled", "mutations:\n  cost-tags:\n    labels: [env]\n", []check{
			mutation("cost-tags", config.Mutation{Enabled: true, Options: map[string]any{"labels": []any{"env"}}}),
		}},
		{"exemptions namespaces replace the defaults", "exemptions:\n  namespaces: [infra]\n", []check{
			exemptions(config.Exemptions{Namespaces: []string{"infra"}}),
		}},
		{"empty namespaces exempt nothing", "exemptions:\n  namespaces: []\n", []check{
			exemptions(config.Exemptions{Namespaces: []string{}}),
		}},
		{"usernames alone keep default namespaces", "exemptions:\n  usernames: [admin]\n", []check{
			exemptions(config.Exemptions{Namespaces: []string{"kube-system", "kube-node-lease"}, Usernames: []string{"admin"}}),
		}},
		{"empty exemptions map keeps defaults", "exemptions: {}\n", []check{
			exemptions(config.Exemptions{Namespaces: []string{"kube-system", "kube-node-lease"}}),
		}},
		{"anchors and aliases in option values", "exemptions:\n  groups: &g [ops]\npolicies:\n  owner-labels:\n    labels: *g\n", []check{
			policy("owner-labels", config.Policy{Action: config.Deny, Options: map[string]any{"labels": []any{"ops"}, "inheritFromNamespace": false}}),
			exemptions(config.Exemptions{Namespaces: []string{"kube-system", "kube-node-lease"}, Groups: []string{"ops"}}),
		}},
		{"trailing empty document", "policies:\n  owner-labels: {action: warn}\n---\n", []check{
			policy("owner-labels", config.Policy{Action: config.Warn, Options: ownerDefaults}),
		}},
		{"CRLF line endings", "apiVersion: microguard.io/v1alpha1\r\npolicies:\r\n  owner-labels:\r\n    action: warn\r\n", []check{
			policy("owner-labels", config.Policy{Action: config.Warn, Options: ownerDefaults}),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("c.yaml", []byte(tc.in), testSchema())
			if err != nil {
				t.Fatalf("Parse:\n%s\nerror: %v", tc.in, err)
			}
			for _, ch := range tc.checks {
				ch(t, c)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		key  string
		line int
		msg  []string // substrings of Error.Msg
	}{
		{
			name: "unknown top-level key",
			in:   "apiVersion: microguard.io/v1alpha1\npolicy:\n  owner-labels: {}\n",
			key:  "policy", line: 2,
			msg: []string{"unknown key", "known keys: apiVersion, customPolicies, decisionLog, exceptions, exemptions, kind, mutations, policies"},
		},
		{
			name: "decision log onFailure",
			in:   "decisionLog:\n  onFailure: ignore\n",
			key:  "decisionLog.onFailure", line: 2,
			msg: []string{`"ignore" is not one of deny, allow`},
		},
		{
			name: "decision log checkpoint interval",
			in:   "decisionLog:\n  checkpointInterval: often\n",
			key:  "decisionLog.checkpointInterval", line: 2,
			msg: []string{`"often" is not a duration of at least 1s`},
		},
		{
			name: "decision log retention",
			in:   "decisionLog:\n  retention:\n    maxRecords: -3\n",
			key:  "decisionLog.retention.maxRecords", line: 3,
			msg: []string{"expected a positive whole number"},
		},
		{
			name: "decision log redact pattern",
			in:   "decisionLog:\n  redact:\n    envNames:\n    - ok\n    - \"(\"\n",
			key:  "decisionLog.redact.envNames[1]", line: 5,
			msg: []string{"not a regular expression"},
		},
		{
			name: "decision log unknown key",
			in:   "decisionLog:\n  onfailure: deny\n",
			key:  "decisionLog.onfailure", line: 2,
			msg: []string{"unknown key", "onFailure"},
		},
		{
			name: "unknown option of a known policy",
			in:   "policies:\n  owner-labels:\n    action: warn\n    lables: [owner]\n",
			key:  "policies.owner-labels.lables", line: 4,
			msg: []string{"unknown key", "known keys: action, inheritFromNamespace, labels"},
		},
		{
			name: "first of two unknown options",
			in:   "policies:\n  owner-labels:\n    lables: [owner]\n    inherit: true\n",
			key:  "policies.owner-labels.lables", line: 3,
			msg: []string{"unknown key"},
		},
		{
			name: "unknown option of a mutation",
			in:   "mutations:\n  cost-tags:\n    enable: false\n",
			key:  "mutations.cost-tags.enable", line: 3,
			msg: []string{"unknown key", "known keys: enabled, labels"},
		},
		{
			name: "bad action",
			in:   "policies:\n  owner-labels:\n    action: block\n",
			key:  "policies.owner-labels.action", line: 3,
			msg: []string{`"block" is not one of deny, warn, audit, off`},
		},
		{
			name: "action in upper case",
			in:   "policies:\n  owner-labels:\n    action: Deny\n",
			key:  "policies.owner-labels.action", line: 3,
			msg: []string{`"Deny" is not one of`},
		},
		{
			name: "action not a scalar",
			in:   "policies:\n  owner-labels:\n    action: [deny]\n",
			key:  "policies.owner-labels.action", line: 3,
			msg: []string{"expected a string, got a list"},
		},
		{
			name: "labels not a list",
			in:   "policies:\n  owner-labels:\n    labels: owner\n",
			key:  "policies.owner-labels.labels", line: 3,
			msg: []string{"expected a list of strings, got a string"},
		},
		{
			name: "labels a map",
			in:   "policies:\n  owner-labels:\n    labels:\n      owner: true\n",
			key:  "policies.owner-labels.labels", line: 4,
			msg: []string{"expected a list of strings, got a map"},
		},
		{
			name: "labels with a non-string element",
			in:   "policies:\n  owner-labels:\n    labels: [owner, 3]\n",
			key:  "policies.owner-labels.labels", line: 3,
			msg: []string{"[1]", "expected a non-empty string, got a number"},
		},
		{
			name: "labels with an empty string element",
			in:   "policies:\n  owner-labels:\n    labels:\n      - owner\n      - \"\"\n",
			key:  "policies.owner-labels.labels", line: 4,
			msg: []string{"[1]", "non-empty string"},
		},
		{
			name: "labels with a null element",
			in:   "policies:\n  owner-labels:\n    labels: [~, owner]\n",
			key:  "policies.owner-labels.labels", line: 3,
			msg: []string{"[0]", "got nothing"},
		},
		{
			name: "bool option not a bool",
			in:   "policies:\n  owner-labels:\n    inheritFromNamespace: \"true\"\n",
			key:  "policies.owner-labels.inheritFromNamespace", line: 3,
			msg: []string{"expected true or false, got a string"},
		},
		{
			name: "enum violation",
			in:   "policies:\n  pod-security:\n    level: privileged\n",
			key:  "policies.pod-security.level", line: 3,
			msg: []string{`"privileged" is not one of [restricted baseline]`},
		},
		{
			name: "null enum value",
			in:   "policies:\n  pod-security:\n    level: ~\n",
			key:  "policies.pod-security.level", line: 3,
			msg: []string{`"" is not one of [restricted baseline]`},
		},
		{
			name: "string option a number",
			in:   "policies:\n  pod-security:\n    level: 3\n",
			key:  "policies.pod-security.level", line: 3,
			msg: []string{"expected a string, got a number"},
		},
		{
			name: "int option a string",
			in:   "policies:\n  replica-limits:\n    max: many\n",
			key:  "policies.replica-limits.max", line: 3,
			msg: []string{"expected an integer, got a string"},
		},
		{
			name: "int option a fraction",
			in:   "policies:\n  replica-limits:\n    max: 1.5\n",
			key:  "policies.replica-limits.max", line: 3,
			msg: []string{"expected an integer, got a number"},
		},
		{
			name: "int option beyond int64",
			in:   "policies:\n  replica-limits:\n    max: 18446744073709551615\n",
			key:  "policies.replica-limits.max", line: 3,
			msg: []string{"expected an integer"},
		},
		{
			name: "int option a float beyond int64",
			in:   "policies:\n  replica-limits:\n    max: 9.223372036854775808e18\n",
			key:  "policies.replica-limits.max", line: 3,
			msg: []string{"expected an integer, got a number"},
		},
		{
			name: "int option a huge float",
			in:   "policies:\n  replica-limits:\n    max: 1e300\n",
			key:  "policies.replica-limits.max", line: 3,
			msg: []string{"expected an integer, got a number"},
		},
		{
			name: "int option infinite",
			in:   "policies:\n  replica-limits:\n    max: -.inf\n",
			key:  "policies.replica-limits.max", line: 3,
			msg: []string{"expected an integer, got a number"},
		},
		{
			name: "int option not a number",
			in:   "policies:\n  replica-limits:\n    max: .nan\n",
			key:  "policies.replica-limits.max", line: 3,
			msg: []string{"expected an integer, got a number"},
		},
		{
			name: "string map with a non-string value",
			in:   "policies:\n  replica-limits:\n    selector:\n      tier: 1\n",
			key:  "policies.replica-limits.selector", line: 4,
			msg: []string{"tier: expected a string, got a number"},
		},
		{
			name: "string map a list",
			in:   "policies:\n  replica-limits:\n    selector: [a]\n",
			key:  "policies.replica-limits.selector", line: 3,
			msg: []string{"expected a map of strings, got a list"},
		},
		{
			name: "wrong apiVersion",
			in:   "apiVersion: microguard.io/v1\nkind: Config\n",
			key:  "apiVersion", line: 1,
			msg: []string{`unsupported version "microguard.io/v1"`, "microguard.io/v1alpha1"},
		},
		{
			name: "apiVersion not a scalar",
			in:   "kind: Config\napiVersion:\n  - microguard.io/v1alpha1\n",
			key:  "apiVersion", line: 3,
			msg: []string{"unsupported version"},
		},
		{
			name: "kind not Config",
			in:   "apiVersion: microguard.io/v1alpha1\nkind: Policy\n",
			key:  "kind", line: 2,
			msg: []string{`expected Config, got "Policy"`},
		},
		{
			name: "enabled not a bool",
			in:   "mutations:\n  cost-tags:\n    enabled: \"yes\"\n",
			key:  "mutations.cost-tags.enabled", line: 3,
			msg: []string{`expected true or false, got "yes"`},
		},
		{
			name: "enabled yes is a string in YAML 1.2",
			in:   "mutations:\n  cost-tags:\n    enabled: yes\n",
			key:  "mutations.cost-tags.enabled", line: 3,
			msg: []string{`expected true or false, got "yes"`},
		},
		{
			name: "enabled a number",
			in:   "mutations:\n  cost-tags:\n    enabled: 1\n",
			key:  "mutations.cost-tags.enabled", line: 3,
			msg: []string{"expected true or false"},
		},
		{
			name: "enabled tagged bool that is not a bool",
			in:   "mutations:\n  cost-tags:\n    enabled: !!bool yes\n",
			key:  "mutations.cost-tags.enabled", line: 3,
			msg: []string{"expected true or false"},
		},
		{
			name: "exemptions.namespaces not a list",
			in:   "exemptions:\n  namespaces: kube-system\n",
			key:  "exemptions.namespaces", line: 2,
			msg: []string{"expected a list of strings, got a string"},
		},
		{
			name: "exemptions.groups with an empty element",
			in:   "exemptions:\n  groups: [ops, \"\"]\n",
			key:  "exemptions.groups", line: 2,
			msg: []string{"[1]", "non-empty string"},
		},
		{
			name: "unknown key under exemptions",
			in:   "exemptions:\n  namespaces: [a]\n  namespace: [b]\n",
			key:  "exemptions.namespace", line: 3,
			msg: []string{"unknown key", "known keys: groups, namespaces, usernames"},
		},
		{
			name: "exemptions not a map",
			in:   "exemptions: [kube-system]\n",
			key:  "exemptions", line: 1,
			msg: []string{"expected a map, got a list"},
		},
		{
			name: "policies not a map",
			in:   "kind: Config\npolicies:\n  - owner-labels\n",
			key:  "policies", line: 3,
			msg: []string{"expected a map of policy ids, got a list"},
		},
		{
			name: "mutations not a map",
			in:   "mutations: cost-tags\n",
			key:  "mutations", line: 1,
			msg: []string{"expected a map of mutation ids", `got "cost-tags"`},
		},
		{
			name: "policy entry not a map",
			in:   "policies:\n  owner-labels: deny\n",
			key:  "policies.owner-labels", line: 2,
			msg: []string{`expected a map, got "deny"`},
		},
		{
			name: "policy entry an alias to a scalar",
			in:   "kind: &k Config\npolicies:\n  owner-labels: *k\n",
			key:  "policies.owner-labels", line: 3,
			msg: []string{"expected a map, got an alias"},
		},
		{
			name: "top level a list",
			in:   "- policies\n",
			key:  "", line: 1,
			msg: []string{"expected a map, got a list"},
		},
		{
			name: "top level a string",
			in:   "policies\n",
			key:  "", line: 1,
			msg: []string{`expected a map, got "policies"`},
		},
		{
			name: "invalid YAML",
			in:   "policies:\n  owner-labels: [deny\n",
			key:  "", line: 0,
			msg: []string{"not valid YAML"},
		},
		{
			name: "tab indentation",
			in:   "policies:\n\towner-labels: {}\n",
			key:  "", line: 0,
			msg: []string{"not valid YAML"},
		},
		{
			name: "duplicate top-level key",
			in:   "policies:\n  owner-labels: {action: warn}\nkind: Config\npolicies:\n  owner-labels: {action: off}\n",
			key:  "policies", line: 4,
			msg: []string{"duplicate key", "line 1"},
		},
		{
			name: "duplicate policy id",
			in:   "policies:\n  owner-labels: {action: warn}\n  owner-labels: {action: off}\n",
			key:  "policies.owner-labels", line: 3,
			msg: []string{"duplicate key", "line 2"},
		},
		{
			name: "duplicate mutation id",
			in:   "mutations:\n  cost-tags: {enabled: false}\n  cost-tags: {enabled: true}\n",
			key:  "mutations.cost-tags", line: 3,
			msg: []string{"duplicate key", "line 2"},
		},
		{
			name: "duplicate action",
			in:   "policies:\n  owner-labels:\n    action: off\n    action: deny\n",
			key:  "policies.owner-labels.action", line: 4,
			msg: []string{"duplicate key", "line 3"},
		},
		{
			name: "duplicate option",
			in:   "policies:\n  owner-labels:\n    labels: [a]\n    labels: [b]\n",
			key:  "policies.owner-labels.labels", line: 4,
			msg: []string{"duplicate key", "line 3"},
		},
		{
			name: "duplicate option of an unimplemented policy",
			in:   "policies:\n  image-signature:\n    action: off\n    keys: [a]\n    keys: [b]\n",
			key:  "policies.image-signature.keys", line: 5,
			msg: []string{"duplicate key", "line 4"},
		},
		{
			name: "duplicate exemptions key",
			in:   "exemptions:\n  namespaces: [a]\n  namespaces: [b]\n",
			key:  "exemptions.namespaces", line: 3,
			msg: []string{"duplicate key", "line 2"},
		},
		{
			name: "duplicate key inside a string map option",
			in:   "policies:\n  replica-limits:\n    selector:\n      tier: a\n      tier: b\n",
			key:  "policies.replica-limits.selector", line: 4,
			msg: []string{"already defined"},
		},
		{
			name: "second document",
			in:   "kind: Config\n---\npolicies:\n  owner-labels: {action: off}\n",
			key:  "", line: 3,
			msg: []string{"more than one YAML document"},
		},
		{
			name: "invalid YAML in a second document",
			in:   "kind: Config\n---\npolicies: [\n",
			key:  "", line: 0,
			msg: []string{"not valid YAML"},
		},
		{
			name: "unimplemented policy with action deny",
			in:   "policies:\n  image-signature:\n    action: deny\n    keys: [a]\n",
			key:  "policies.image-signature", line: 3,
			msg: []string{`policy "image-signature" is not implemented`, "implemented: owner-labels, pod-security, replica-limits", "action: off"},
		},
		{
			name: "unimplemented policy without an action",
			in:   "policies:\n  image-signature:\n    keys: [a]\n",
			key:  "policies.image-signature", line: 3,
			msg: []string{`policy "image-signature" is not implemented`},
		},
		{
			name: "unimplemented policy with a bad action",
			in:   "policies:\n  image-signature:\n    action: maybe\n",
			key:  "policies.image-signature.action", line: 3,
			msg: []string{`"maybe" is not one of`},
		},
		{
			name: "unimplemented policy not a map",
			in:   "policies:\n  image-signature: off\n",
			key:  "policies.image-signature", line: 2,
			msg: []string{"expected a map"},
		},
		{
			name: "unimplemented mutation enabled",
			in:   "mutations:\n  add-sidecar:\n    enabled: true\n",
			key:  "mutations.add-sidecar", line: 3,
			msg: []string{`mutation "add-sidecar" is not implemented`, "implemented: cost-tags", "enabled: false"},
		},
		{
			name: "unimplemented mutation enabled True",
			in:   "mutations:\n  add-sidecar:\n    enabled: True\n",
			key:  "mutations.add-sidecar", line: 3,
			msg: []string{`mutation "add-sidecar" is not implemented`},
		},
		{
			name: "unimplemented mutation without enabled",
			in:   "mutations:\n  add-sidecar:\n    image: x\n",
			key:  "mutations.add-sidecar", line: 3,
			msg: []string{`mutation "add-sidecar" is not implemented`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("microguard.yaml", []byte(tc.in), testSchema())
			if err == nil {
				t.Fatalf("Parse:\n%s\nsucceeded with %#v, want an error", tc.in, c)
			}
			if c != nil {
				t.Errorf("Parse returned a config with its error: %#v", c)
			}
			var e *config.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *config.Error", err, err)
			}
			if !config.IsConfigError(err) {
				t.Errorf("IsConfigError(%v) = false", err)
			}
			if e.File != "microguard.yaml" {
				t.Errorf("File = %q, want microguard.yaml", e.File)
			}
			if e.Key != tc.key {
				t.Errorf("Key = %q, want %q (error: %v)", e.Key, tc.key, err)
			}
			if e.Line != tc.line {
				t.Errorf("Line = %d, want %d (error: %v)", e.Line, tc.line, err)
			}
			for _, m := range tc.msg {
				if !strings.Contains(e.Msg, m) {
					t.Errorf("Msg = %q, want it to contain %q", e.Msg, m)
				}
			}
			if tc.line > 0 {
				prefix := fmt.Sprintf("microguard.yaml:%d: ", tc.line)
				if tc.key != "" {
					prefix += tc.key + ": "
				}
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("Error() = %q, want prefix %q", err.Error(), prefix)
				}
			}
		})
	}
}

func TestUnimplementedAccepted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		warning string // substring of the one expected warning
	}{
		{
			name:    "policy off with unchecked options",
			in:      "policies:\n  image-signature:\n    action: off\n    keys: [not, checked]\n    anything: {a: 1}\n",
			warning: `policies.image-signature: policy "image-signature" is not implemented by this release`,
		},
		{
			name:    "policy quoted off",
			in:      "policies:\n  image-signature: {action: \"off\"}\n",
			warning: `policy "image-signature"`,
		},
		{
			name:    "mutation disabled with unchecked options",
			in:      "mutations:\n  add-sidecar:\n    enabled: false\n    image: 3\n",
			warning: `mutations.add-sidecar: mutation "add-sidecar" is not implemented by this release`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("c.yaml", []byte(tc.in), testSchema())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], tc.warning) {
				t.Errorf("Warnings = %q, want one containing %q", c.Warnings, tc.warning)
			}
			if _, ok := c.Policies["image-signature"]; ok {
				t.Errorf("unimplemented policy added to Policies: %#v", c.Policies)
			}
			if _, ok := c.Mutations["add-sidecar"]; ok {
				t.Errorf("unimplemented mutation added to Mutations: %#v", c.Mutations)
			}
			if c.Enabled("image-signature") {
				t.Error("Enabled(image-signature) = true")
			}
			if !reflect.DeepEqual(c.Policies, defaultPolicies()) || !reflect.DeepEqual(c.Mutations, defaultMutations()) {
				t.Errorf("implemented entries changed: %#v %#v", c.Policies, c.Mutations)
			}
		})
	}

	t.Run("warnings accumulate in file order", func(t *testing.T) {
		in := "policies:\n  b-policy: {action: off}\n  a-policy: {action: off}\nmutations:\n  z-mutation: {enabled: false}\n"
		c, err := config.Parse("c.yaml", []byte(in), testSchema())
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		want := []string{"policies.b-policy:", "policies.a-policy:", "mutations.z-mutation:"}
		if len(c.Warnings) != len(want) {
			t.Fatalf("Warnings = %q, want %d", c.Warnings, len(want))
		}
		for i, w := range want {
			if !strings.HasPrefix(c.Warnings[i], w) {
				t.Errorf("Warnings[%d] = %q, want prefix %q", i, c.Warnings[i], w)
			}
		}
	})
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		err  config.Error
		want string
	}{
		{config.Error{File: "c.yaml", Line: 3, Key: "policies.x", Msg: "bad"}, "c.yaml:3: policies.x: bad"},
		{config.Error{File: "c.yaml", Line: 0, Key: "policies.x", Msg: "bad"}, "c.yaml: policies.x: bad"},
		{config.Error{File: "c.yaml", Line: 7, Msg: "bad"}, "c.yaml:7: bad"},
		{config.Error{File: "c.yaml", Msg: "not valid YAML"}, "c.yaml: not valid YAML"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%#v.Error() = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestIsConfigError(t *testing.T) {
	ce := &config.Error{File: "f", Msg: "m"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"config error", ce, true},
		{"wrapped config error", fmt.Errorf("starting: %w", ce), true},
		{"other error", errors.New("boom"), false},
		{"not exist", fs.ErrNotExist, false},
	} {
		if got := config.IsConfigError(tc.err); got != tc.want {
			t.Errorf("%s: IsConfigError = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestExempt(t *testing.T) {
	e := config.Exemptions{
		Namespaces: []string{"kube-system", "monitoring"},
		Usernames:  []string{"admin", "system:serviceaccount:ci:deployer"},
		Groups:     []string{"system:masters", "ops"},
	}
	for _, tc := range []struct {
		name      string
		ex        config.Exemptions
		namespace string
		username  string
		groups    []string
		want      bool
		reason    string
	}{
		{"namespace match", e, "kube-system", "alice", nil, true, "namespace kube-system"},
		{"second namespace", e, "monitoring", "", nil, true, "namespace monitoring"},
		{"username match", e, "shop", "admin", nil, true, "user admin"},
		{"service account user", e, "shop", "system:serviceaccount:ci:deployer", []string{"system:serviceaccounts"}, true, "user system:serviceaccount:ci:deployer"},
		{"group match", e, "shop", "alice", []string{"developers", "ops"}, true, "group ops"},
		{"first matching group", e, "shop", "alice", []string{"system:masters", "ops"}, true, "group system:masters"},
		{"namespace wins over user and group", e, "kube-system", "admin", []string{"ops"}, true, "namespace kube-system"},
		{"user wins over group", e, "shop", "admin", []string{"ops"}, true, "user admin"},
		{"no match", e, "shop", "alice", []string{"developers"}, false, ""},
		{"namespace is matched exactly", e, "kube-system-2", "alice", nil, false, ""},
		{"namespace match is case sensitive", e, "Kube-System", "", nil, false, ""},
		{"user name is matched exactly", e, "shop", "admin2", nil, false, ""},
		{"empty namespace (cluster-scoped)", e, "", "alice", nil, false, ""},
		{"empty namespace with an exempt user", e, "", "admin", nil, true, "user admin"},
		{"empty namespace never matches an empty entry", config.Exemptions{Namespaces: []string{""}, Usernames: []string{""}}, "", "", nil, false, ""},
		{"no exemptions", config.Exemptions{}, "kube-system", "admin", []string{"ops"}, false, ""},
		{"default exemptions", config.Default(config.Schema{}).Exemptions, "kube-node-lease", "", nil, true, "namespace kube-node-lease"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, ok := tc.ex.Exempt(tc.namespace, tc.username, tc.groups)
			if ok != tc.want || reason != tc.reason {
				t.Errorf("Exempt(%q, %q, %q) = %q, %v; want %q, %v", tc.namespace, tc.username, tc.groups, reason, ok, tc.reason, tc.want)
			}
		})
	}
}

func TestEnabled(t *testing.T) {
	c := config.Default(testSchema())
	c.Policies["pod-security"] = config.Policy{Action: config.Off}
	c.Policies["owner-labels"] = config.Policy{Action: config.Audit}
	for id, want := range map[string]bool{
		"owner-labels":   true,
		"pod-security":   false,
		"replica-limits": true,
		"missing":        false,
		"":               false,
	} {
		if got := c.Enabled(id); got != want {
			t.Errorf("Enabled(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestDigest(t *testing.T) {
	s := testSchema()
	parse := func(in string) *config.Config {
		t.Helper()
		c, err := config.Parse("c.yaml", []byte(in), s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		return c
	}
	a := parse("policies:\n  owner-labels: {action: warn}\n")
	sum := sha256.Sum256([]byte("policies:\n  owner-labels: {action: warn}\n"))
	if want := "sha256:" + hex.EncodeToString(sum[:]); a.Digest != want {
		t.Errorf("Digest = %q, want %q", a.Digest, want)
	}
	if len(a.Digest) != len("sha256:")+64 || !strings.HasPrefix(a.Digest, "sha256:") {
		t.Errorf("Digest %q is not sha256: and 64 hex digits", a.Digest)
	}
	if again := parse("policies:\n  owner-labels: {action: warn}\n"); again.Digest != a.Digest {
		t.Errorf("same content, digests %q and %q", a.Digest, again.Digest)
	}
	// Same meaning, different bytes: the digest is of the file, not the meaning.
	b := parse("policies:\n  owner-labels:\n    action: warn\n")
	if b.Digest == a.Digest {
		t.Errorf("different contents gave the same digest %q", a.Digest)
	}
	c := parse("policies:\n  owner-labels: {action: audit}\n")
	if c.Digest == a.Digest || c.Digest == b.Digest {
		t.Errorf("different contents gave the same digest %q", c.Digest)
	}
	if d := parse(""); !strings.HasPrefix(d.Digest, "sha256:") {
		t.Errorf("Digest of an empty file = %q, want a sha256 digest", d.Digest)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()

	t.Run("valid file", func(t *testing.T) {
		path := filepath.Join(dir, "microguard.yaml")
		if err := os.WriteFile(path, []byte(fullConfig), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path, testSchema())
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		want, err := config.Parse(path, []byte(fullConfig), testSchema())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("Load = %#v\nwant %#v", c, want)
		}
	})

	t.Run("testdata file", func(t *testing.T) {
		c, err := config.Load(filepath.Join("testdata", "full.yaml"), testSchema())
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if got := c.Policies["owner-labels"]; got.Action != config.Warn || !reflect.DeepEqual(got.Options["labels"], []any{"owner", "team"}) {
			t.Errorf("owner-labels = %#v", got)
		}
		if !slices.Equal(c.Exemptions.Namespaces, []string{"kube-system", "monitoring"}) {
			t.Errorf("namespaces = %q", c.Exemptions.Namespaces)
		}
	})

	t.Run("invalid file names the path", func(t *testing.T) {
		path := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(path, []byte("kind: Config\nbogus: 1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := config.Load(path, testSchema())
		var e *config.Error
		if !errors.As(err, &e) {
			t.Fatalf("Load error %v is not a *config.Error", err)
		}
		if e.File != path || e.Line != 2 || e.Key != "bogus" {
			t.Errorf("error = %#v, want File %q Line 2 Key bogus", e, path)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(dir, "missing.yaml")
		c, err := config.Load(path, testSchema())
		if err == nil {
			t.Fatalf("Load of a missing file = %#v, want an error", c)
		}
		if c != nil {
			t.Errorf("Load returned a config with its error: %#v", c)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v does not wrap fs.ErrNotExist", err)
		}
		if config.IsConfigError(err) {
			t.Errorf("a missing file is reported as a config error: %v", err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the path", err)
		}
	})
}

func TestSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec config.Spec
		err  string // "" for valid; else a substring of the error
	}{
		{"valid with every type", config.Spec{ID: "p", DefaultAction: config.Audit, Options: map[string]config.Option{
			"s": {Type: config.String, Default: "a", Enum: []string{"a", "b"}},
			"b": {Type: config.Bool, Default: true},
			"i": {Type: config.Int, Default: 3},
			"l": {Type: config.StringList, Default: []any{"x"}},
			"m": {Type: config.StringMap, Default: map[string]any{"k": "v"}},
		}}, ""},
		{"mutation without default action", config.Spec{ID: "m"}, ""},
		{"nil defaults of nullable types", config.Spec{ID: "p", Options: map[string]config.Option{
			"s": {Type: config.String},
			"l": {Type: config.StringList},
			"m": {Type: config.StringMap},
		}}, ""},
		{"int default from JSON", config.Spec{ID: "p", Options: map[string]config.Option{
			"i": {Type: config.Int, Default: float64(5)},
		}}, ""},
		{"int default int64", config.Spec{ID: "p", Options: map[string]config.Option{
			"i": {Type: config.Int, Default: int64(5)},
		}}, ""},
		{"bad default action", config.Spec{ID: "p", DefaultAction: "block"},
			`p: defaultAction "block" is not one of`},
		{"upper-case default action", config.Spec{ID: "p", DefaultAction: "Deny"},
			`defaultAction "Deny"`},
		{"string list default a string", config.Spec{ID: "p", Options: map[string]config.Option{
			"labels": {Type: config.StringList, Default: "x"},
		}}, "p: option labels: default: expected a list of strings, got a string"},
		{"string list default with an empty string", config.Spec{ID: "p", Options: map[string]config.Option{
			"labels": {Type: config.StringList, Default: []any{"a", ""}},
		}}, "option labels: default: [1]"},
		{"string list default a []string", config.Spec{ID: "p", Options: map[string]config.Option{
			"labels": {Type: config.StringList, Default: []string{"a"}},
		}}, "option labels: default: expected a list of strings"},
		{"bad option type", config.Spec{ID: "p", Options: map[string]config.Option{
			"n": {Type: "float", Default: 1.5},
		}}, `p: option n: type "float" is not one of`},
		{"empty option type", config.Spec{ID: "p", Options: map[string]config.Option{
			"n": {Default: "x"},
		}}, `option n: type "" is not one of`},
		{"bool default missing", config.Spec{ID: "p", Options: map[string]config.Option{
			"b": {Type: config.Bool},
		}}, "option b: default: expected true or false, got nothing"},
		{"bool default a string", config.Spec{ID: "p", Options: map[string]config.Option{
			"b": {Type: config.Bool, Default: "true"},
		}}, "expected true or false, got a string"},
		{"int default a fraction", config.Spec{ID: "p", Options: map[string]config.Option{
			"i": {Type: config.Int, Default: 1.5},
		}}, "option i: default: expected an integer, got a number"},
		{"int default missing", config.Spec{ID: "p", Options: map[string]config.Option{
			"i": {Type: config.Int},
		}}, "expected an integer, got nothing"},
		{"string default outside its enum", config.Spec{ID: "p", Options: map[string]config.Option{
			"s": {Type: config.String, Default: "c", Enum: []string{"a", "b"}},
		}}, `option s: default: "c" is not one of [a b]`},
		{"string map default with a non-string value", config.Spec{ID: "p", Options: map[string]config.Option{
			"m": {Type: config.StringMap, Default: map[string]any{"k": 1}},
		}}, "option m: default: k: expected a string, got a number"},
		{"first bad option in name order", config.Spec{ID: "p", Options: map[string]config.Option{
			"z": {Type: config.Bool, Default: 1},
			"a": {Type: config.Int, Default: "x"},
		}}, "option a:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.err != "" && err == nil:
				t.Errorf("Validate() = nil, want an error containing %q", tc.err)
			case tc.err != "" && !strings.Contains(err.Error(), tc.err):
				t.Errorf("Validate() = %q, want it to contain %q", err, tc.err)
			}
		})
	}
}

func TestDecisionLogConfig(t *testing.T) {
	c, err := config.Parse("c.yaml", []byte(`decisionLog:
  onFailure: allow
  checkpointInterval: 30s
  sqliteSync: full
  signingKey: /etc/microguard/checkpoint.key
  retention: {maxAge: 720h, maxRecords: 1000000}
  redact:
    envNames: ["^SECRET_"]
    annotations: []
`), testSchema())
	if err != nil {
		t.Fatal(err)
	}
	want := config.DefaultDecisionLog()
	want.OnFailure, want.CheckpointInterval, want.SigningKey, want.SQLiteSync = "allow", 30*time.Second, "/etc/microguard/checkpoint.key", "full"
	want.MaxAge, want.MaxRecords = 720*time.Hour, 1000000
	want.Redact.EnvNames, want.Redact.Annotations = []string{"^SECRET_"}, []string{}
	if !reflect.DeepEqual(c.DecisionLog, want) {
		t.Errorf("DecisionLog = %+v\nwant %+v", c.DecisionLog, want)
	}
	if d := config.Default(testSchema()).DecisionLog; d.OnFailure != "deny" || len(d.Redact.SecretNames) == 0 {
		t.Errorf("defaults %+v: want fail closed and secret names redacted", d)
	}
	err = c.Errorf("decisionLog.signingKey", "no such file")
	if got := err.Error(); got != "c.yaml:5: decisionLog.signingKey: no such file" {
		t.Errorf("Errorf = %q", got)
	}
}
