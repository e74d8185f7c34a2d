package exception

import (
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/microguard/microguard/pkg/admission"
	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/policy"
)

func input(ns, name string, images ...string) *admission.Input {
	var containers []any
	for _, img := range images {
		containers = append(containers, map[string]any{"name": "c", "image": img})
	}
	return &admission.Input{
		Request: &admissionv1.AdmissionRequest{Namespace: ns, Name: name},
		Object:  map[string]any{},
		Pods:    []admission.Pod{{Spec: map[string]any{"containers": containers}}},
	}
}

func TestApply(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	base := config.Exception{
		Policy: "pod-security", Rules: []string{"privileged"}, Namespaces: []string{"monitoring"}, Names: []string{"node-agent-*"},
		Justification: "needs the host", ApprovedBy: "platform", Expires: now.Add(time.Hour), Source: "exceptions[0]",
	}
	privileged := policy.Violation{Policy: "pod-security", Rule: "privileged", Action: config.Deny}
	cases := []struct {
		name   string
		exc    func(e config.Exception) config.Exception
		in     *admission.Input
		v      policy.Violation
		waived bool
	}{
		{"matches", nil, input("monitoring", "node-agent-1", "img"), privileged, true},
		{"expired", func(e config.Exception) config.Exception { e.Expires = now; return e }, input("monitoring", "node-agent-1", "img"), privileged, false},
		{"other rule", nil, input("monitoring", "node-agent-1", "img"), policy.Violation{Policy: "pod-security", Rule: "hostPorts"}, false},
		{"all rules when none listed", func(e config.Exception) config.Exception { e.Rules = nil; return e }, input("monitoring", "node-agent-1", "img"), policy.Violation{Policy: "pod-security", Rule: "hostPorts"}, true},
		{"other policy", nil, input("monitoring", "node-agent-1", "img"), policy.Violation{Policy: "owner-labels", Rule: "privileged"}, false},
		{"other namespace", nil, input("shop", "node-agent-1", "img"), privileged, false},
		{"name glob does not match", nil, input("monitoring", "web-1", "img"), privileged, false},
		{"every image matches", func(e config.Exception) config.Exception { e.Images = []string{"registry.example/mon/*"}; return e },
			input("monitoring", "node-agent-1", "registry.example/mon/agent:1", "registry.example/mon/sidecar:2"), privileged, true},
		{"one image does not match", func(e config.Exception) config.Exception { e.Images = []string{"registry.example/mon/*"}; return e },
			input("monitoring", "node-agent-1", "registry.example/mon/agent:1", "evil.example/x:1"), privileged, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := base
			if tc.exc != nil {
				e = tc.exc(e)
			}
			got := Set{e}.Apply(now, tc.in, []policy.Violation{tc.v})
			if (got[0].Exception != nil) != tc.waived {
				t.Fatalf("waived = %v, want %v", got[0].Exception != nil, tc.waived)
			}
			if tc.waived {
				if got[0].Exception.Source != "exceptions[0]" || got[0].Exception.Expires != "2026-11-29T13:00:00Z" {
					t.Errorf("exception ref %+v", got[0].Exception)
				}
				if note := Note(got[0]); note == "" {
					t.Error("empty note")
				}
			}
		})
	}
}

func TestExpiringWithin(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	s := Set{{Expires: now.Add(-time.Hour)}, {Expires: now.Add(24 * time.Hour)}, {Expires: now.Add(13 * 24 * time.Hour)}, {Expires: now.Add(30 * 24 * time.Hour)}}
	if got := s.ExpiringWithin(now, Soon); got != 2 {
		t.Fatalf("expiring within 14 days = %d, want 2", got)
	}
}
