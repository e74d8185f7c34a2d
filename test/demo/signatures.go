package main

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/microguard/microguard/pkg/verify/verifytest"
)

// signatures is the image-signature part of the demo: a registry on
// loopback with a signed and an unsigned image of the sample app, a key
// generated for this run, and the demo config with a rule trusting it.
type signatures struct {
	registry *verifytest.Registry
	keyPath  string
	config   string // the demo config: examples/config.yaml plus the rule
}

func startSignatures(t *verifytest.Standalone, dir, baseConfig string) (s *signatures, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("setting up the demo registry: %v", r)
		}
	}()
	s = &signatures{registry: verifytest.StartRegistry(t)}
	key := verifytest.NewKey(t, "ecdsa")
	s.keyPath = key.WritePublicKey(t, dir, "where2eat-release.pub")
	signed := s.registry.Push(t, "where2eat/menu", "1.4.0")
	s.registry.Sign(t, signed, key)
	s.registry.Push(t, "where2eat/nightly", "latest")

	data, err := os.ReadFile(baseConfig)
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", baseConfig, err)
	}
	policies, _ := cfg["policies"].(map[string]any)
	if policies == nil {
		policies = map[string]any{}
		cfg["policies"] = policies
	}
	policies["image-signature"] = map[string]any{
		"action":    "deny",
		"unmatched": "allow",
		"rules": []any{map[string]any{
			"images": []any{s.registry.Host + "/where2eat/**"},
			"keys":   []any{s.keyPath},
			"tlog":   false,
		}},
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	s.config = filepath.Join(dir, "config.yaml")
	fmt.Printf("  registry %s: %s/where2eat/menu:1.4.0 signed with a key made for this run, where2eat/nightly:latest unsigned\n", s.registry.Host, s.registry.Host)
	return s, os.WriteFile(s.config, out, 0o600)
}

type step struct {
	title, name, manifest string
	admit                 bool
}

func (s *signatures) steps() []step {
	pod := func(name, image string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: where2eat, labels: {owner: ana, app: %s}}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: %s
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`, name, name, image)
	}
	h := s.registry.Host
	return []step{
		{title: "kubectl apply: a pod running a signed image   (expected: admitted, pinned to its digest)", name: "signed-menu", manifest: pod("signed-menu", h+"/where2eat/menu:1.4.0"), admit: true},
		{title: "kubectl apply: a pod running an unsigned image   (expected: denied)", name: "unsigned-nightly", manifest: pod("unsigned-nightly", h+"/where2eat/nightly:latest")},
	}
}
