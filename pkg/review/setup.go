package review

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/go-logr/logr"

	"github.com/microguard/microguard/pkg/admission"
	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/manifest"
	"github.com/microguard/microguard/pkg/mutate"
	"github.com/microguard/microguard/pkg/podsecurity"
	"github.com/microguard/microguard/pkg/policy"
	"github.com/microguard/microguard/pkg/verify"
)

// Setup is everything a decision needs, prepared once at start.
type Setup struct {
	Config *config.Config
	Bundle *policy.Bundle
	Engine *policy.Engine
	Chain  *mutate.Chain
	// Verifier checks image signatures; nil when the image-signature
	// policy is off.
	Verifier *verify.Verifier
	// PodSecurity runs upstream's Pod Security checks ahead of the
	// pod-security policy; nil when that policy is off.
	PodSecurity *podsecurity.Evaluator
}

// Options say where the configuration and the admin's policies are.
type Options struct {
	Config string // config file ("" for the built-in defaults)
	// Policies is a directory of custom policies; "" takes the config's
	// customPolicies.
	Policies string
	// Verify are the image signature verifier's collaborators (cluster
	// client, metrics, log).
	Verify verify.Options
}

// Prepare loads the bundle from fsys, reads the config at configPath ("" for
// the built-in defaults) against the bundle's policies and the registered
// mutators, compiles the bundle once and checks it against the bundle's own
// fixtures: a bundle whose output breaks the violation contract is refused
// here, at start, not on a request.
func Prepare(ctx context.Context, fsys fs.FS, configPath string) (*Setup, error) {
	return PrepareWith(ctx, fsys, Options{Config: configPath})
}

// CustomSource is the bundle name under which custom policies are loaded.
const CustomSource = "custom"

// PrepareWith is Prepare with custom policies: they are loaded next to the
// embedded bundle and must keep the same contract; their _test.rego files
// (and the bundle's) must pass, or microguard refuses to start.
func PrepareWith(ctx context.Context, fsys fs.FS, o Options) (*Setup, error) {
	dir := o.Policies
	if dir == "" && o.Config != "" {
		var err error
		if dir, err = config.CustomPoliciesDir(o.Config); err != nil {
			return nil, err
		}
	}
	var extra []policy.Source
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("custom policies: %s is not a directory", dir)
		}
		extra = append(extra, policy.Source{Name: CustomSource, FS: os.DirFS(dir)})
	}
	b, err := policy.LoadBundle(fsys, extra...)
	if err != nil {
		return nil, err
	}
	if dir != "" {
		if err := passTests(ctx, b); err != nil {
			return nil, err
		}
	}
	configPath := o.Config
	schema := config.Schema{Policies: append(b.Schema(), mutationsAppliedSpec), Mutations: mutate.Schema()}
	cfg := config.Default(schema)
	if configPath != "" {
		if cfg, err = config.Load(configPath, schema); err != nil {
			return nil, err
		}
	}
	engine, err := policy.NewEngine(ctx, b, cfg)
	if err != nil {
		return nil, err
	}
	chain, err := mutate.NewChain(cfg)
	if err != nil {
		return nil, err
	}
	s := &Setup{Config: cfg, Bundle: b, Engine: engine, Chain: chain}
	if p, ok := enabled(cfg, verify.PolicyID); ok {
		vp, err := verify.ParsePolicy(ctx, p.Options)
		var ce *verify.ConfigError
		switch {
		case errors.As(err, &ce) && cfg.File != "":
			return nil, cfg.Errorf("policies."+verify.PolicyID+"."+ce.Key, "%v", ce.Err)
		case err != nil:
			return nil, err
		}
		s.Verifier = verify.New(vp, o.Verify)
	}
	if p, ok := enabled(cfg, podsecurity.PolicyID); ok {
		if s.PodSecurity, err = podsecurity.New(p.Options); err != nil {
			return nil, fmt.Errorf("policies.%s: %w", podsecurity.PolicyID, err)
		}
	}
	if err := s.selfCheck(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// enabled is the configuration of policy id when it is on (the policies
// whose facts Go computes: image-signature, pod-security).
func enabled(cfg *config.Config, id string) (config.Policy, bool) {
	p, ok := cfg.Policies[id]
	return p, ok && p.Action != "" && p.Action != config.Off
}

// passTests refuses a bundle whose Rego tests fail, naming file and line.
func passTests(ctx context.Context, b *policy.Bundle) error {
	results, err := b.Test(ctx)
	if err != nil {
		return err
	}
	var failed []string
	for _, r := range results {
		switch {
		case r.Error != "":
			failed = append(failed, fmt.Sprintf("%s: %s: %s", r.Location, r.Name, r.Error))
		case !r.Passed:
			failed = append(failed, fmt.Sprintf("%s: %s: FAIL", r.Location, r.Name))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("policy tests failed:\n%s", strings.Join(failed, "\n"))
	}
	return nil
}

// Reviewer builds a reviewer on the prepared setup.
func (s *Setup) Reviewer(ns Namespaces, log logr.Logger) *Reviewer {
	return New(s.Config, s.Engine, s.Chain, ns, log).WithVerifier(s.Verifier).WithPodSecurity(s.PodSecurity)
}

// selfCheck evaluates every fixture of the bundle.
func (s *Setup) selfCheck(ctx context.Context) error {
	files, err := s.Bundle.Fixtures()
	if err != nil {
		return err
	}
	for _, f := range files {
		file, err := s.Bundle.Open(f)
		if err != nil {
			return fmt.Errorf("policy bundle self-check: %w", err)
		}
		objs, err := manifest.Read(f, file)
		file.Close()
		if err != nil {
			return fmt.Errorf("policy bundle self-check: %w", err)
		}
		for _, o := range objs {
			in, err := admission.DecodeObject(o.Raw, o.GVK, o.Namespace, o.Name)
			if err != nil {
				return fmt.Errorf("policy bundle self-check: %s: %w", o.Source, err)
			}
			if _, err := s.Engine.EvaluateDocument(ctx, in.Document()); err != nil {
				return fmt.Errorf("policy bundle self-check: %s: %w", o.Source, err)
			}
		}
	}
	return nil
}
