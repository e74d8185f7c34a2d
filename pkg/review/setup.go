package review

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/go-logr/logr"

	"github.com/microguard/microguard/pkg/admission"
	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/manifest"
	"github.com/microguard/microguard/pkg/mutate"
	"github.com/microguard/microguard/pkg/policy"
)

// Setup is everything a decision needs, prepared once at start.
type Setup struct {
	Config *config.Config
	Bundle *policy.Bundle
	Engine *policy.Engine
	Chain  *mutate.Chain
}

// Prepare loads the bundle from fsys, reads the config at configPath ("" for
// the built-in defaults) against the bundle's policies and the registered
// mutators, compiles the bundle once and checks it against the bundle's own
// fixtures: a bundle whose output breaks the violation contract is refused
// here, at start, not on a request.
func Prepare(ctx context.Context, fsys fs.FS, configPath string) (*Setup, error) {
	b, err := policy.LoadBundle(fsys)
	if err != nil {
		return nil, err
	}
	schema := config.Schema{Policies: b.Schema(), Mutations: mutate.Schema()}
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
	if err := s.selfCheck(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Reviewer builds a reviewer on the prepared setup.
func (s *Setup) Reviewer(ns Namespaces, log logr.Logger) *Reviewer {
	return New(s.Config, s.Engine, s.Chain, ns, log)
}

// selfCheck evaluates every fixture of the bundle.
func (s *Setup) selfCheck(ctx context.Context) error {
	files, err := s.Bundle.Fixtures()
	if err != nil {
		return err
	}
	for _, f := range files {
		file, err := s.Bundle.FS().Open(f)
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
			value, err := policy.Input(in.Document())
			if err == nil {
				_, err = s.Engine.Evaluate(ctx, value)
			}
			if err != nil {
				return fmt.Errorf("policy bundle self-check: %s: %w", o.Source, err)
			}
		}
	}
	return nil
}
