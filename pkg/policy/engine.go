package policy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/microguard/microguard/pkg/config"
)

// Violation is one broken rule, as a developer reads it: where (Field, a path
// in the submitted object), what (Message) and how to fix it (Hint).
type Violation struct {
	Policy  string        `json:"policy"`
	Rule    string        `json:"rule"`
	Action  config.Action `json:"action"`
	Message string        `json:"message"`
	Field   string        `json:"field"`
	Hint    string        `json:"hint"`
	// Exception is set when an exception in force waived this violation.
	Exception *ExceptionRef `json:"exception,omitempty"`
}

// ExceptionRef says which exception waived a violation.
type ExceptionRef struct {
	Source        string `json:"source"` // e.g. exceptions[0]
	Justification string `json:"justification"`
	ApprovedBy    string `json:"approvedBy"`
	Expires       string `json:"expires"` // RFC 3339
}

// String is the line kubectl shows for a denial.
func (v Violation) String() string {
	return fmt.Sprintf("[%s/%s] %s (field: %s). Fix: %s", v.Policy, v.Rule, v.Message, v.Field, v.Hint)
}

// Engine evaluates the compiled bundle. It is safe for concurrent use.
type Engine struct {
	query query
	// enabled are the policies that are not off, in the order of their
	// keys in the query's result (p0, p1, ...).
	enabled []enabledPolicy
	// store holds the config (data.microguard.config), read-only.
	store   storage.Store
	observe func(time.Duration)
	// plan is the bundle compiled for the plan evaluator (plan.go), nil
	// when it cannot run it (planErr says why) or is not asked to.
	plan       *planned
	planErr    error
	onFallback func(error)
	fallbacks  atomic.Uint64
}

// query is the compiled query of every enabled policy: first the
// policies partially evaluated against the config, their sets in the value
// of data.microguard.engine.violations bound to inlinedResult (partial
// evaluation takes one reference, not several expressions), then the
// policies as written, each set bound to the variable named by its
// enabledPolicy.set (p1 = data.microguard.policies.<package>.violation).
// It is evaluated by OPA's topdown directly: the rego package's
// PreparedEvalQuery costs about 2.3 µs more (its eval context, a goroutine
// for cancellation, results converted to Go values), and a query for each
// way cost about 1.5 µs more than one for both.
type query struct {
	compiler *ast.Compiler
	body     ast.Body
}

// inlinedResult is the variable the query's inlined part binds the
// violation sets of the inlined policies to.
const inlinedResult = ast.Var("violations")

type enabledPolicy struct {
	id      string
	action  config.Action // configured
	ref     string        // data.microguard.policies.<package>.violation
	inlined bool          // partially evaluated and inlined (custom.inline)
	set     string        // the key of its violations in the query's result
	key     *ast.Term     // set as a term, for the inlined part's object
}

// OnEvaluate calls fn with the duration of every evaluation (for metrics).
// Set it before the engine is used.
func (e *Engine) OnEvaluate(fn func(time.Duration)) { e.observe = fn }

// EngineOption changes how NewEngine compiles the bundle.
type EngineOption func(*engineOptions)

type engineOptions struct{ partialEval, plan bool }

// Topdown makes EvaluateDocument evaluate with OPA's topdown, as Evaluate
// does, rather than with the plan evaluator.
func Topdown() EngineOption { return func(o *engineOptions) { o.plan = false } }

// AsWritten compiles the policies as they are written, without partially
// evaluating them against the config first: for tests that hold both ways
// to the same answers.
func AsWritten() EngineOption { return func(o *engineOptions) { o.partialEval = false } }

// enginePackage holds the engine's query rule; LoadBundle refuses modules
// in it.
const enginePackage = "data.microguard.engine"

// NewEngine compiles the bundle once, with cfg as data.microguard.config
// (policies[id] holds each policy's action and options), into one query
// that reads the violation set of every policy that is not off.
//
// The policies are partially evaluated against the config once, here
// (OPA's partial evaluation, rego's Partial): every reference to the
// config is replaced by its value, the rules that depend on the config
// alone are decided and the rest are inlined into the query, so that a
// request evaluates only what depends on its input. A policy whose
// METADATA says custom.inline: false is read as written, after them:
// for rules that look each other up by a name taken from the input, where
// inlining would spell out every rule (pod-security's checks).
func NewEngine(ctx context.Context, b *Bundle, cfg *config.Config, opts ...EngineOption) (*Engine, error) {
	o := engineOptions{partialEval: true, plan: true}
	for _, opt := range opts {
		opt(&o)
	}
	policies := map[string]any{}
	e := &Engine{}
	for _, p := range b.policies {
		pc, ok := cfg.Policies[p.ID]
		if !ok {
			pc = config.Policy{Action: p.Spec.DefaultAction}
		}
		doc := map[string]any{"action": string(pc.Action)}
		for k, v := range pc.Options {
			doc[k] = v
		}
		policies[p.ID] = doc
		if pc.Action == config.Off {
			continue
		}
		ref := ast.Ref{ast.DefaultRootDocument, ast.StringTerm("microguard"), ast.StringTerm("policies"), ast.StringTerm(p.Package), ast.StringTerm("violation")}
		set := fmt.Sprintf("p%d", len(e.enabled))
		e.enabled = append(e.enabled, enabledPolicy{id: p.ID, action: pc.Action, ref: ref.String(), inlined: o.partialEval && p.Inline,
			set: set, key: ast.StringTerm(set)})
	}
	if len(e.enabled) == 0 {
		return e, nil // nothing to evaluate
	}
	// The store holds the config as OPA values, so that no evaluation
	// converts it again.
	data, err := ast.InterfaceToValue(map[string]any{
		"microguard": map[string]any{"config": map[string]any{"policies": policies}},
	})
	if err != nil {
		return nil, fmt.Errorf("converting the config for the policies: %w", err)
	}
	e.store = inmem.NewFromASTObject(data.(ast.Object))
	var inlined, asWritten []string
	for _, p := range e.enabled {
		if p.inlined {
			inlined = append(inlined, fmt.Sprintf("%q: %s", p.set, p.ref))
		} else {
			asWritten = append(asWritten, p.set+" = "+p.ref)
		}
	}
	if e.query, err = prepare(ctx, b, e.store, inlined, asWritten); err != nil {
		return nil, fmt.Errorf("compiling policy bundle: %w", err)
	}
	if o.plan {
		if e.plan, e.planErr = plan(ctx, b, e.enabled, data); e.planErr != nil && !errors.Is(e.planErr, errIRUnsupported) {
			return nil, fmt.Errorf("compiling policy bundle: %w", e.planErr)
		}
	}
	return e, nil
}

// prepare compiles the query: the members of the engine rule's object
// (inlined), partially evaluated against store and inlined, then the
// expressions asWritten. The inlined part is OPA's residual (rego's
// Partial, as PrepareForEval's WithPartialEval runs it), compiled with the
// bundle and the residual's support modules.
func prepare(ctx context.Context, b *Bundle, store storage.Store, inlined, asWritten []string) (query, error) {
	modules := maps.Clone(b.modules)
	var body ast.Body
	if len(inlined) > 0 {
		engine, err := ast.ParseModuleWithOpts("microguard-engine.rego",
			"package "+strings.TrimPrefix(enginePackage, "data.")+"\n\nviolations := {"+strings.Join(inlined, ", ")+"}\n", ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return query{}, err
		}
		modules["microguard-engine.rego"] = engine
		opts := []func(*rego.Rego){rego.Store(store), rego.StrictBuiltinErrors(true),
			rego.Query(string(inlinedResult) + " = " + enginePackage + ".violations")}
		for _, m := range modules {
			opts = append(opts, rego.ParsedModule(m))
		}
		pq, err := rego.New(opts...).Partial(ctx)
		if err != nil {
			return query{}, err
		}
		if len(pq.Queries) != 1 {
			return query{}, fmt.Errorf("partial evaluation gave %d queries, want 1", len(pq.Queries))
		}
		for i, m := range pq.Support {
			modules[fmt.Sprintf("microguard-engine-support-%d.rego", i)] = m
		}
		body = pq.Queries[0]
	}
	if len(asWritten) > 0 {
		terms, err := ast.ParseBodyWithOpts(strings.Join(asWritten, "; "), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return query{}, err
		}
		for _, t := range terms {
			body.Append(t)
		}
	}
	compiler := ast.NewCompiler()
	if compiler.Compile(modules); compiler.Failed() {
		return query{}, compiler.Errors
	}
	compiled, err := compiler.QueryCompiler().Compile(body)
	if err != nil {
		return query{}, err
	}
	return query{compiler: compiler, body: compiled}, nil
}

// Input converts a decoded input document to the engine's value, once per
// request. The pods' metadata and spec are the very maps inside object (a
// Pod's own, or a workload's template): each is converted once and the
// value shared, as OPA values are immutable.
func Input(doc map[string]any) (ast.Value, error) {
	c := converter{}
	pods, _ := doc["pods"].([]any)
	for _, p := range pods {
		if p, ok := p.(map[string]any); ok {
			for _, k := range [...]string{"metadata", "spec"} {
				if m, ok := p[k].(map[string]any); ok && len(m) > 0 {
					v, err := c.value(m)
					if err != nil {
						return nil, fmt.Errorf("converting policy input: %w", err)
					}
					c.shared = append(c.shared, sharedValue{reflect.ValueOf(m).UnsafePointer(), v})
				}
			}
		}
	}
	v, err := c.value(doc)
	if err != nil {
		return nil, fmt.Errorf("converting policy input: %w", err)
	}
	return v, nil
}

// converter is ast.InterfaceToValue that reuses the values of the shared
// maps.
type converter struct {
	shared []sharedValue
	pairs  [][2]*ast.Term
}

type sharedValue struct {
	m unsafe.Pointer
	v ast.Value
}

func (c *converter) value(x any) (ast.Value, error) {
	switch x := x.(type) {
	case map[string]any:
		if len(x) == 0 {
			// OPA's own, which it shares too (the leaves of every
			// managedFields entry are empty objects).
			return ast.InternedEmptyObjectValue, nil
		}
		if len(c.shared) > 0 {
			p := reflect.ValueOf(x).UnsafePointer()
			for _, s := range c.shared {
				if s.m == p {
					return s.v, nil
				}
			}
		}
		// As ast.InterfaceToValue: the terms of a map or array in one slab.
		// NewObject keeps the terms, not the pairs: they are built in
		// c.pairs, a stack that the nested maps share.
		terms := make([]ast.Term, 2*len(x))
		base := len(c.pairs)
		i := 0
		for k, e := range x {
			v, err := c.value(e)
			if err != nil {
				return nil, err
			}
			terms[i].Value, terms[i+1].Value = ast.InternedValue(k), v
			c.pairs = append(c.pairs, [2]*ast.Term{&terms[i], &terms[i+1]})
			i += 2
		}
		obj := ast.NewObject(c.pairs[base:]...)
		clear(c.pairs[base:])
		c.pairs = c.pairs[:base]
		return obj, nil
	case []any:
		if len(x) == 0 {
			return ast.InternedEmptyArrayValue, nil
		}
		terms := termSlab(len(x))
		for i, e := range x {
			v, err := c.value(e)
			if err != nil {
				return nil, err
			}
			terms[i].Value = v
		}
		return ast.NewArray(terms...), nil
	}
	return ast.InterfaceToValue(x)
}

// Evaluate runs every enabled policy against input and returns the
// violations, each stamped with its policy and action, sorted. An output
// that breaks the violation contract is an error, never an empty result;
// so is an evaluation that ctx cancels or times out.
func (e *Engine) Evaluate(ctx context.Context, input ast.Value) ([]Violation, error) {
	if len(e.enabled) == 0 {
		return []Violation{}, nil
	}
	if e.observe != nil {
		start := time.Now()
		defer func() { e.observe(time.Since(start)) }()
	}
	return e.evaluate(ctx, input)
}

// evaluate is Evaluate, untimed.
func (e *Engine) evaluate(ctx context.Context, input ast.Value) ([]Violation, error) {
	result, err := e.query.eval(ctx, e.store, ast.NewTerm(input))
	if err != nil {
		return nil, fmt.Errorf("evaluating policies: %w", err)
	}
	var out []Violation
	for _, p := range e.enabled {
		set, err := setOf(result, p)
		if err != nil {
			return nil, fmt.Errorf("evaluating policies: %w", err)
		}
		if err := set.Iter(func(it *ast.Term) error {
			v, err := violation(p, it)
			out = append(out, v)
			return err
		}); err != nil {
			return nil, err
		}
	}
	if out == nil {
		out = []Violation{}
	}
	Sort(out)
	return out, nil
}

// eval evaluates q against input and returns its one result. The
// evaluation stops when ctx is done. Its cache of rule values is the
// engine's (virtualCache), reused from one evaluation to the next.
func (q query) eval(ctx context.Context, store storage.Store, input *ast.Term) (topdown.QueryResult, error) {
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	cancel := topdown.NewCancel()
	defer context.AfterFunc(ctx, cancel.Cancel)()
	vc := newVirtualCache()
	defer vc.release()
	rs, err := topdown.NewQuery(q.body).WithCompiler(q.compiler).WithStore(store).WithTransaction(txn).
		WithInput(input).WithStrictBuiltinErrors(true).WithCancel(cancel).WithMetrics(noMetrics).WithVirtualCache(vc).Run(ctx)
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("%d results, want 1 (a violation set is undefined)", len(rs))
	}
	return rs[0], nil
}

// noMetrics is what every evaluation records its timers in: nothing (the
// engine times an evaluation itself, see OnEvaluate). Without it topdown
// allocates a fresh set of metrics for each query.
var noMetrics = metrics.NoOp()

// setOf is the violation set of policy p in r, the query's result.
func setOf(r topdown.QueryResult, p enabledPolicy) (ast.Set, error) {
	var t *ast.Term
	if p.inlined {
		if sets, ok := valueOf(r[inlinedResult]).(ast.Object); ok {
			t = sets.Get(p.key)
		}
	} else {
		t = r[ast.Var(p.set)]
	}
	set, ok := valueOf(t).(ast.Set)
	if !ok {
		return nil, fmt.Errorf("the violations of policy %s are %v, not a set", p.id, t)
	}
	return set, nil
}

// valueOf is t's value, nil for no term.
func valueOf(t *ast.Term) ast.Value {
	if t == nil {
		return nil
	}
	return t.Value
}

// severity orders the actions a violation can carry, harshest last.
var severity = map[config.Action]int{config.Audit: 1, config.Warn: 2, config.Deny: 3}

// violation checks one output item of policy p against the contract and
// stamps it with p's id and action.
func violation(p enabledPolicy, it *ast.Term) (Violation, error) {
	m, ok := it.Value.(ast.Object)
	if !ok {
		return Violation{}, fmt.Errorf("policy %s output %v is not an object", p.id, it)
	}
	return stamp(p, func(key string) (any, string, bool) {
		t := m.Get(ast.InternedTerm(key))
		s, ok := valueOf(t).(ast.String)
		return t, string(s), ok
	})
}

// stamp reads a violation's fields through get (the field's value as
// found, for errors, and as a string, if it is one) and stamps it with p's
// id and action. Rule, message, field and hint must be non-empty strings.
// An item may ask for a milder action than the configured one (warn or
// audit), never a harsher one: any other value is replaced by the
// configured action.
func stamp(p enabledPolicy, get func(key string) (found any, s string, ok bool)) (Violation, error) {
	v := Violation{Policy: p.id, Action: p.action}
	for _, f := range []struct {
		key string
		dst *string
	}{{"rule", &v.Rule}, {"message", &v.Message}, {"field", &v.Field}, {"hint", &v.Hint}} {
		found, s, ok := get(f.key)
		if !ok || s == "" {
			return Violation{}, fmt.Errorf("policy %s broke the violation contract: %q must be a non-empty string, got %v", p.id, f.key, found)
		}
		*f.dst = s
	}
	if _, asked, ok := get("action"); ok {
		v.Action = milder(p.action, asked)
	}
	return v, nil
}

// milder is the action a violation asked for if it is warn or audit and
// milder than the configured one, else the configured one.
func milder(configured config.Action, asked string) config.Action {
	if a := config.Action(asked); (a == config.Warn || a == config.Audit) && severity[a] < severity[configured] {
		return a
	}
	return configured
}

// Sort orders violations by policy, rule, field and message, so the same
// input always gives the same message.
func Sort(vs []Violation) {
	slices.SortFunc(vs, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(a.Policy, b.Policy), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Field, b.Field), cmp.Compare(a.Message, b.Message))
	})
}

// termSlab is n term pointers into one allocation.
func termSlab(n int) []*ast.Term {
	slab := make([]ast.Term, n)
	out := make([]*ast.Term, n)
	for i := range slab {
		out[i] = &slab[i]
	}
	return out
}
