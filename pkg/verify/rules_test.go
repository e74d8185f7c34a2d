package verify

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/microguard/microguard/pkg/verify/verifytest"
)

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern, image string
		want           bool
	}{
		{"registry.example.com/team-a/*", "registry.example.com/team-a/app:v1", true},
		{"registry.example.com/team-a/*", "registry.example.com/team-a/sub/app:v1", false},
		{"registry.example.com/team-a/*", "registry.example.com/team-ab/app:v1", false},
		{"ghcr.io/org/**", "ghcr.io/org/a/b/c@sha256:0000000000000000000000000000000000000000000000000000000000000000", true},
		{"ghcr.io/org/**", "ghcr.io/other/app", false},
		{"ghcr.io/org/**", "ghcr.io/organisation/app", false},
		{"localhost:5000/**", "localhost:5000/app:v1", true},
		{"localhost:5000/**", "localhost:5001/app:v1", false},
		{"10.0.0.1:5000/team/app", "10.0.0.1:5000/team/app:v2", true},
		{"nginx", "nginx:1.27", true},
		{"nginx", "docker.io/library/nginx", true},
		{"docker.io/nginx", "nginx:1.27", true},
		{"docker.io/library/*", "redis", true},
		{"bitnami/*", "docker.io/bitnami/redis:7", true},
		{"*.example.com/app", "eu.example.com/app", true},
		{"*.example.com/app", "eu.example.com/x/app", false},
	} {
		re, err := compilePattern(tc.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		v := New(&Policy{Rules: []*Rule{{Images: []string{tc.pattern}, patterns: []*regexp.Regexp{re}}}, CacheSize: 1}, Options{})
		if got := v.Covers(tc.image); got != tc.want {
			t.Errorf("pattern %q, image %q: covers = %v, want %v (regexp %s)", tc.pattern, tc.image, got, tc.want, re)
		}
	}
}

func TestPolicyErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	key := verifytest.NewKey(t, "ecdsa").WritePublicKey(t, dir, "k.pub")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	rootPath := verifytest.NewCA(t).WriteTrustedRoot(t, dir)
	rule := func(kv ...any) map[string]any {
		m := map[string]any{"images": []any{"ghcr.io/org/**"}, "keys": []any{key}, "tlog": false}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		options map[string]any
		want    string
	}{
		{"no images", map[string]any{"rules": []any{rule("images", nil)}}, "rules[0].images: a rule needs at least one image pattern"},
		{"digest in pattern", map[string]any{"rules": []any{rule("images", []any{"ghcr.io/org/app@sha256:00"})}}, "rules[0].images[0]: a pattern names repositories"},
		{"missing key file", map[string]any{"rules": []any{rule("keys", []any{key, filepath.Join(dir, "absent.pub")})}}, "rules[0].keys[1]: open "},
		{"not a PEM key", map[string]any{"rules": []any{rule("keys", []any{notPEM})}}, "rules[0].keys[0]: " + notPEM + ": not a PEM public key"},
		{"unknown KMS", map[string]any{"rules": []any{rule("keys", []any{"fookms://k"})}}, `rules[0].keys[0]: no KMS provider for "fookms"`},
		{"trusts nothing", map[string]any{"rules": []any{rule("keys", nil)}}, "rules[0]: a rule must trust something"},
		{"tlog without trusted root", map[string]any{"rules": []any{rule("tlog", nil)}}, "rules[0].tlog: is true (the default)"},
		{"unknown rule key", map[string]any{"rules": []any{rule("key", "x")}}, "rules[0].key: unknown key"},
		{"keyless without issuer", map[string]any{"rules": []any{rule("keys", nil, "keyless", map[string]any{"subject": "a@b.c", "trustedRoot": rootPath})}}, "rules[0].keyless.issuer: set issuer or issuerRegExp"},
		{"keyless bad regexp", map[string]any{"rules": []any{rule("keys", nil, "keyless", map[string]any{"issuer": "x", "subjectRegExp": "(", "trustedRoot": rootPath})}}, "rules[0].keyless.subjectRegExp: error parsing regexp"},
		{"keyless without trusted root", map[string]any{"rules": []any{rule("keys", nil, "keyless", map[string]any{"issuer": "x", "subject": "a@b.c"})}}, "rules[0].keyless.trustedRoot: keyless verification needs a trusted_root.json"},
		{"keyless bad trusted root", map[string]any{"rules": []any{rule("keys", nil, "keyless", map[string]any{"issuer": "x", "subject": "a@b.c", "trustedRoot": notPEM})}}, "rules[0].keyless.trustedRoot: "},
		{"keys and keyless", map[string]any{"rules": []any{rule("keyless", map[string]any{"issuer": "x", "subject": "a@b.c", "trustedRoot": rootPath})}}, "rules[0]: a rule trusts keys or a keyless identity, not both"},
		{"keyRef without name", map[string]any{"rules": []any{rule("keys", nil, "keyRef", map[string]any{"namespace": "x"})}}, "rules[0].keyRef: namespace and name of the Secret are required"},
		{"bad timeout", map[string]any{"timeout": "soon"}, `timeout: "soon" is not a positive duration`},
		{"bad unmatched", map[string]any{"unmatched": "maybe"}, `unmatched: "maybe" is not one of deny, allow, warn`},
		{"bad tagCacheTTL", map[string]any{"tagCacheTTL": "half a minute"}, `tagCacheTTL: "half a minute" is not a duration such as 30s (0s turns the tag cache off)`},
		{"negative tagCacheTTL", map[string]any{"tagCacheTTL": "-1s"}, `tagCacheTTL: "-1s" is not a duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy(context.Background(), tc.options)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if want := "policies.image-signature." + tc.want; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q\nwant it to contain %q", err, want)
			}
		})
	}
}

func TestTagCacheTTLOption(t *testing.T) {
	for _, tc := range []struct {
		value any
		want  time.Duration
	}{
		{nil, 30 * time.Second},
		{"", 30 * time.Second},
		{"5m", 5 * time.Minute},
		{"0s", 0},
		{"0", 0},
	} {
		opts := map[string]any{}
		if tc.value != nil {
			opts["tagCacheTTL"] = tc.value
		}
		p, err := ParsePolicy(context.Background(), opts)
		if err != nil {
			t.Fatalf("tagCacheTTL %v: %v", tc.value, err)
		}
		if p.TagCacheTTL != tc.want {
			t.Errorf("tagCacheTTL %v: %s, want %s", tc.value, p.TagCacheTTL, tc.want)
		}
	}
}
