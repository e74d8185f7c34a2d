package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/microguard/microguard/pkg/config"
)

var exceptionSchema = config.Schema{Policies: []config.Spec{{ID: "pod-security", DefaultAction: config.Deny}}}

func TestExceptions(t *testing.T) {
	cfg, err := config.Parse("c.yaml", []byte(`exceptions:
- policy: pod-security
  rules: [privileged]
  namespaces: [monitoring]
  names: ["node-agent-*"]
  images: ["registry.example/mon/*"]
  justification: the node agent reads host metrics
  approvedBy: platform-team
  expires: 2027-01-31
`), exceptionSchema)
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Exceptions[0]
	if e.Policy != "pod-security" || e.Rules[0] != "privileged" || e.Names[0] != "node-agent-*" || e.ApprovedBy != "platform-team" || e.Source != "exceptions[0]" {
		t.Fatalf("exception %+v", e)
	}
	if want := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC); !e.Expires.Equal(want) {
		t.Fatalf("a date expires at the end of that day: got %v", e.Expires)
	}
	for body, want := range map[string]string{
		"exceptions:\n- policy: pod-security\n  namespaces: [a]\n  approvedBy: x\n  expires: 2027-01-01\n":                                  "exceptions[0].justification: an exception needs a justification",
		"exceptions:\n- policy: pod-security\n  namespaces: [a]\n  approvedBy: x\n  justification: y\n":                                     "exceptions[0].expires: an exception needs an expiry date",
		"exceptions:\n- policy: pod-security\n  namespaces: [a]\n  justification: y\n  expires: 2027-01-01\n":                               "exceptions[0].approvedBy",
		"exceptions:\n- policy: nope\n  namespaces: [a]\n  approvedBy: x\n  justification: y\n  expires: 2027-01-01\n":                      `policy "nope" is not implemented`,
		"exceptions:\n- policy: pod-security\n  approvedBy: x\n  justification: y\n  expires: 2027-01-01\n":                                 "names the namespaces or object names",
		"exceptions:\n- policy: pod-security\n  namespaces: [a]\n  approvedBy: x\n  justification: y\n  expires: soon\n":                    "exceptions[0].expires: \"soon\" is neither a date",
		"exceptions:\n- policy: pod-security\n  names: ['[']\n  approvedBy: x\n  justification: y\n  expires: 2027-01-01\n":                 "not a valid glob",
		"exceptions:\n- policy: pod-security\n  namespaces: [a]\n  approvedBy: x\n  justification: y\n  expires: 2027-01-01\n  reason: z\n": "exceptions[0].reason: unknown key",
		"exceptions: {}\n": "expected a list of exceptions",
	} {
		_, err := config.Parse("c.yaml", []byte(body), exceptionSchema)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", body, err, want)
		}
	}
}
