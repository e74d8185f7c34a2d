package decisionlog

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestRedaction(t *testing.T) {
	rd := Redaction{
		EnvNames:    []*regexp.Regexp{regexp.MustCompile(`(?i)(token|password)`)},
		SecretNames: []*regexp.Regexp{regexp.MustCompile(`.*`)},
		Annotations: []*regexp.Regexp{regexp.MustCompile(`^vault\.`)},
	}
	var ops []PatchOp
	if err := json.Unmarshal([]byte(`[
		{"op":"add","path":"/spec/containers/0/env","value":[{"name":"API_TOKEN","value":"s3cr3t"},{"name":"OTEL_SERVICE_NAME","value":"menu"},
			{"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"name":"db-creds","key":"pw"}}}]},
		{"op":"add","path":"/spec/containers/1/env/0","value":{"name":"PASSWORD","value":"hunter2"}},
		{"op":"add","path":"/metadata/annotations","value":{"vault.example/token":"abc","microguard.io/mutations":"cost-tags"}},
		{"op":"replace","path":"/metadata/annotations/vault.example~1role","value":"admin"},
		{"op":"add","path":"/spec/volumes/0","value":{"name":"creds","secret":{"secretName":"db-creds"}}},
		{"op":"add","path":"/spec/imagePullSecrets","value":[{"name":"regcred"}]}
	]`), &ops); err != nil {
		t.Fatal(err)
	}
	rd.Apply(ops)
	out, _ := json.Marshal(ops)
	got := string(out)
	for _, secret := range []string{"s3cr3t", "hunter2", "db-creds", `"abc"`, "admin", "regcred"} {
		if strings.Contains(got, secret) {
			t.Errorf("%s survived redaction: %s", secret, got)
		}
	}
	for _, kept := range []string{`"value":"menu"`, `"microguard.io/mutations":"cost-tags"`, `"name":"API_TOKEN"`, `"key":"pw"`} {
		if !strings.Contains(got, kept) {
			t.Errorf("%s was redacted too: %s", kept, got)
		}
	}
}

// matches answers as the pattern does, whether remembered or not, and
// forgets everything once it holds maxMatched answers.
func TestMatchesIsBounded(t *testing.T) {
	re := regexp.MustCompile(`(?i)token`)
	for round := range 2 {
		for _, tc := range []struct {
			s    string
			want bool
		}{{"API_TOKEN", true}, {"OTEL_SERVICE_NAME", false}, {"tok", false}, {"", false}} {
			if got := matches(re, tc.s); got != tc.want {
				t.Errorf("round %d: matches(%q) = %v, want %v", round, tc.s, got, tc.want)
			}
		}
	}
	for i := range 3 * maxMatched {
		s := fmt.Sprintf("NAME_%d", i)
		if i%7 == 0 {
			s += "_TOKEN"
		}
		if got := matches(re, s); got != (i%7 == 0) {
			t.Fatalf("matches(%q) = %v", s, got)
		}
		if n := matchedSize.Load(); n > maxMatched {
			t.Fatalf("%d answers remembered, more than %d", n, maxMatched)
		}
	}
}
