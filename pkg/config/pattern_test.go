package config_test

import (
	"strings"
	"testing"

	"github.com/microguard/microguard/pkg/config"
)

func TestStringPattern(t *testing.T) {
	o := config.Option{Type: config.String, Pattern: `^(latest|v1\.(0|[1-9][0-9]*))$`, Default: "latest", Description: "x"}
	for v, ok := range map[string]bool{"latest": true, "v1.25": true, "v1.0": true, "v2.1": false, "1.25": false, "v1.025": false, "": false} {
		spec := config.Spec{ID: "p", Options: map[string]config.Option{"version": o}}
		_, err := config.Parse("c.yaml", []byte("policies:\n  p:\n    version: \""+v+"\"\n"), config.Schema{Policies: []config.Spec{spec}})
		if (err == nil) != ok {
			t.Errorf("%q: err %v, want ok=%v", v, err, ok)
		}
	}
	bad := config.Spec{ID: "x", Options: map[string]config.Option{"v": {Type: config.String, Pattern: "(", Default: "a", Description: "x"}}}
	if err := bad.Validate(); err == nil {
		t.Error("an invalid pattern must be refused")
	}
}

func TestMapOptions(t *testing.T) {
	spec := config.Spec{ID: "p", Options: map[string]config.Option{
		"patterns": {Type: config.PatternMap, Default: map[string]any{}, Description: "x"},
		"byEnv":    {Type: config.StringListMap, Default: map[string]any{}, Description: "x"},
	}}
	schema := config.Schema{Policies: []config.Spec{spec}}
	cfg, err := config.Parse("c.yaml", []byte("policies:\n  p:\n    patterns: {owner: '^[a-z]+$'}\n    byEnv: {prod: [cost-center, owner]}\n"), schema)
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.Policies["p"].Options
	if opts["patterns"].(map[string]any)["owner"] != "^[a-z]+$" {
		t.Errorf("patterns = %v", opts["patterns"])
	}
	if got := opts["byEnv"].(map[string]any)["prod"].([]any); len(got) != 2 || got[0] != "cost-center" {
		t.Errorf("byEnv = %v", opts["byEnv"])
	}
	for body, want := range map[string]string{
		"policies:\n  p:\n    patterns: {owner: '(['}\n":    "policies.p.patterns: owner: not a valid regular expression",
		"policies:\n  p:\n    byEnv: {prod: cost-center}\n": "policies.p.byEnv: prod: expected a list of strings",
		"policies:\n  p:\n    patterns: [a]\n":              "expected a map of regular expressions",
	} {
		_, err := config.Parse("c.yaml", []byte(body), schema)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", body, err, want)
		}
	}
}
