package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/rego"
)

// planTarget is the rego target whose plugin hands the engine the query's
// plan (OPA's planner output) instead of evaluating it.
const planTarget = "microguard-plan"

var registerPlanTarget = sync.OnceFunc(func() { rego.RegisterPlugin(planTarget, planCapture{}) })

type planCapture struct{}

type planKey struct{}

func (planCapture) IsTarget(t string) bool { return t == planTarget }

// PrepareForEval keeps the plan where the context says; the engine never
// evaluates through rego, so the TargetPluginEval it returns is never
// called.
func (planCapture) PrepareForEval(ctx context.Context, p *ir.Policy, _ ...rego.PrepareOption) (rego.TargetPluginEval, error) {
	holder, ok := ctx.Value(planKey{}).(**ir.Policy)
	if !ok {
		return nil, errors.New("the microguard-plan target is the policy engine's own")
	}
	*holder = p
	return planCapture{}, nil
}

func (planCapture) Eval(context.Context, *rego.EvalContext, ast.Value) (ast.Value, error) {
	return nil, errors.New("the microguard-plan target does not evaluate")
}

// planned is the engine's compiled plan: every enabled policy's violation
// set, as written, with the config as data.
type planned struct {
	prog *irProgram
	data any
}

// plan compiles the bundle into one plan of the query
// "p0 = data.microguard.policies.<package>.violation; p1 = ...". A plan
// the evaluator cannot run is an error that wraps errIRUnsupported.
func plan(ctx context.Context, b *Bundle, enabled []enabledPolicy, data ast.Value) (*planned, error) {
	registerPlanTarget()
	var q []string
	for _, p := range enabled {
		q = append(q, p.set+" = "+p.ref)
	}
	var p *ir.Policy
	opts := []func(*rego.Rego){rego.Target(planTarget), rego.Query(strings.Join(q, "; "))}
	for _, m := range b.modules {
		opts = append(opts, rego.ParsedModule(m))
	}
	if _, err := rego.New(opts...).PrepareForEval(context.WithValue(ctx, planKey{}, &p)); err != nil {
		return nil, fmt.Errorf("%w: planning the policies: %w", errIRUnsupported, err)
	}
	if p == nil {
		return nil, fmt.Errorf("%w: the planner gave no plan", errIRUnsupported)
	}
	prog, err := newIRProgram(p)
	if err != nil {
		return nil, err
	}
	d, err := irFromAST(data)
	if err != nil {
		return nil, fmt.Errorf("%w: the config as data: %w", errIRUnsupported, err)
	}
	irFreeze(d)
	// The rules that depend on the config alone, computed now rather than
	// by the first request (which would wait for them). One that fails
	// keeps its error for the requests that reach it, which topdown then
	// decides.
	e := &irEval{prog: prog, data: d}
	for _, f := range prog.funcs {
		if f.constant {
			_, _ = e.callFunc(f, []any{nil, d})
		}
	}
	return &planned{prog: prog, data: d}, nil
}

// evaluate runs the plan on the input document and reads each enabled
// policy's violations.
func (pl *planned) evaluate(ctx context.Context, enabled []enabledPolicy, doc map[string]any) ([]Violation, error) {
	results, err := pl.prog.eval(ctx, doc, pl.data)
	if err != nil {
		return nil, err
	}
	if len(results) != 1 {
		return nil, fmt.Errorf("%d results, want 1 (a violation set is undefined)", len(results))
	}
	var out []Violation
	for _, p := range enabled {
		got := irGet(results[0], p.set)
		set, ok := got.(*irSet)
		if !ok {
			return nil, fmt.Errorf("the violations of policy %s are %v, not a set", p.id, got)
		}
		for _, it := range set.sortedElems() {
			v, err := planViolation(p, it)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	if out == nil {
		out = []Violation{}
	}
	Sort(out)
	return out, nil
}

// planViolation is violation (engine.go) for a plan's value.
func planViolation(p enabledPolicy, it any) (Violation, error) {
	switch it.(type) {
	case *irObject, map[string]any:
	default:
		return Violation{}, fmt.Errorf("policy %s output %v is not an object", p.id, it)
	}
	return stamp(p, func(key string) (any, string, bool) {
		v := irGet(it, key)
		s, ok := v.(string)
		return v, s, ok
	})
}

// EvaluateDocument is Evaluate for an input document as admission makes
// it (Document): with the plan evaluator when the engine has one, so the
// document is never converted to OPA values; else converted (Input) and
// evaluated with topdown.
func (e *Engine) EvaluateDocument(ctx context.Context, doc map[string]any) ([]Violation, error) {
	if len(e.enabled) == 0 {
		return []Violation{}, nil
	}
	if e.plan == nil {
		value, err := Input(doc)
		if err != nil {
			return nil, err
		}
		return e.Evaluate(ctx, value)
	}
	if e.observe != nil {
		start := time.Now()
		defer func() { e.observe(time.Since(start)) }()
	}
	vs, err := e.plan.evaluate(ctx, e.enabled, doc)
	if err == nil {
		return vs, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("evaluating policies: %w (%w)", ctx.Err(), err)
	}
	// The plan evaluator runs every rule body in full, where topdown's
	// rule index and early exits skip some: a built-in function's error
	// there (or a number it cannot hold exactly, or a bug) is not
	// necessarily topdown's. Topdown decides such a request, and its
	// error, if it has one, is the answer.
	e.fallbacks.Add(1)
	if e.onFallback != nil {
		e.onFallback(err)
	}
	value, err := Input(doc)
	if err != nil {
		return nil, err
	}
	return e.evaluate(ctx, value)
}

// Evaluator says how EvaluateDocument evaluates: "plan", or "topdown" and
// why the plan evaluator could not take the bundle.
func (e *Engine) Evaluator() string {
	if e.plan != nil {
		return "plan"
	}
	if e.planErr != nil {
		return "topdown (" + e.planErr.Error() + ")"
	}
	return "topdown"
}

// OnFallback calls fn with the plan evaluator's error whenever topdown
// decides a request in its place (for metrics and logs). Set it before
// the engine is used.
func (e *Engine) OnFallback(fn func(error)) { e.onFallback = fn }

// Fallbacks is how many requests topdown decided in the plan evaluator's
// place.
func (e *Engine) Fallbacks() uint64 { return e.fallbacks.Load() }
