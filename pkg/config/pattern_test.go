package config_test

import (
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
