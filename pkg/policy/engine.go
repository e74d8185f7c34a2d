package policy

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

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
	queries []query
	// enabled are the policies that are not off, in the order of the
	// queries' keys (p0, p1, ...).
	enabled []enabledPolicy
	observe func(time.Duration)
}

// query is one compiled query: either the policies as written, with each
// violation set bound to a variable (p0 = data.microguard.policies.<package>.violation; ...),
// or the policies partially evaluated against the config, with the sets
// in the value of data.microguard.engine.violations (partial evaluation
// takes one reference, not several expressions).
type query struct {
	prepared rego.PreparedEvalQuery
	inlined  bool
}

type enabledPolicy struct {
	id      string
	action  config.Action // configured
	ref     string        // data.microguard.policies.<package>.violation
	inlined bool          // partially evaluated and inlined (custom.inline)
	set     string        // the key of its violations in its query's result
	query   int           // index in Engine.queries
}

// OnEvaluate calls fn with the duration of every evaluation (for metrics).
// Set it before the engine is used.
func (e *Engine) OnEvaluate(fn func(time.Duration)) { e.observe = fn }

// EngineOption changes how NewEngine compiles the bundle.
type EngineOption func(*engineOptions)

type engineOptions struct{ partialEval bool }

// AsWritten compiles the policies as they are written, without partially
// evaluating them against the config first: for tests that hold both ways
// to the same answers.
func AsWritten() EngineOption { return func(o *engineOptions) { o.partialEval = false } }

// enginePackage holds the engine's query rule; LoadBundle refuses modules
// in it.
const enginePackage = "data.microguard.engine"

// NewEngine compiles the bundle once, with cfg as data.microguard.config
// (policies[id] holds each policy's action and options), into at most two
// queries that read the violation set of every policy that is not off.
//
// The policies are partially evaluated against the config once, here
// (OPA's PrepareForEval with WithPartialEval): every reference to the
// config is replaced by its value, the rules that depend on the config
// alone are decided and the rest are inlined into the query, so that a
// request evaluates only what depends on its input. A policy whose
// METADATA says custom.inline: false goes to a second query, as written:
// for rules that look each other up by a name taken from the input, where
// inlining would spell out every rule (pod-security's checks).
func NewEngine(ctx context.Context, b *Bundle, cfg *config.Config, opts ...EngineOption) (*Engine, error) {
	o := engineOptions{partialEval: true}
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
		e.enabled = append(e.enabled, enabledPolicy{id: p.ID, action: pc.Action, ref: ref.String(), inlined: o.partialEval && p.Inline,
			set: fmt.Sprintf("p%d", len(e.enabled))})
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
	store := inmem.NewFromASTObject(data.(ast.Object))
	for _, inlined := range []bool{true, false} {
		var terms []string
		for i, p := range e.enabled {
			if p.inlined != inlined {
				continue
			}
			e.enabled[i].query = len(e.queries)
			if inlined {
				terms = append(terms, fmt.Sprintf("%q: %s", p.set, p.ref))
			} else {
				terms = append(terms, p.set+" = "+p.ref)
			}
		}
		if len(terms) == 0 {
			continue
		}
		q, err := prepare(ctx, b, store, inlined, terms)
		if err != nil {
			return nil, fmt.Errorf("compiling policy bundle: %w", err)
		}
		e.queries = append(e.queries, query{prepared: q, inlined: inlined})
	}
	return e, nil
}

// prepare compiles the query of terms: the members of the engine rule's
// object, partially evaluated against store and inlined, or the
// expressions of a query as written.
func prepare(ctx context.Context, b *Bundle, store storage.Store, inlined bool, terms []string) (rego.PreparedEvalQuery, error) {
	opts := []func(*rego.Rego){rego.Store(store), rego.StrictBuiltinErrors(true)}
	for _, m := range b.modules {
		opts = append(opts, rego.ParsedModule(m))
	}
	if !inlined {
		return rego.New(append(opts, rego.Query(strings.Join(terms, "; ")))...).PrepareForEval(ctx)
	}
	engine, err := ast.ParseModuleWithOpts("microguard-engine.rego",
		"package "+strings.TrimPrefix(enginePackage, "data.")+"\n\nviolations := {"+strings.Join(terms, ", ")+"}\n", ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return rego.PreparedEvalQuery{}, err
	}
	opts = append(opts, rego.ParsedModule(engine), rego.Query(enginePackage+".violations"))
	return rego.New(opts...).PrepareForEval(ctx, rego.WithPartialEval())
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
type converter struct{ shared []sharedValue }

type sharedValue struct {
	m unsafe.Pointer
	v ast.Value
}

func (c *converter) value(x any) (ast.Value, error) {
	switch x := x.(type) {
	case map[string]any:
		if len(x) > 0 && len(c.shared) > 0 {
			p := reflect.ValueOf(x).UnsafePointer()
			for _, s := range c.shared {
				if s.m == p {
					return s.v, nil
				}
			}
		}
		// As ast.InterfaceToValue: the terms of a map or array in one slab.
		terms := termSlab(2 * len(x))
		tuples := make([][2]*ast.Term, 0, len(x))
		i := 0
		for k, e := range x {
			v, err := c.value(e)
			if err != nil {
				return nil, err
			}
			terms[i].Value, terms[i+1].Value = ast.InternedValue(k), v
			tuples = append(tuples, [2]*ast.Term{terms[i], terms[i+1]})
			i += 2
		}
		return ast.NewObject(tuples...), nil
	case []any:
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
// that breaks the violation contract is an error, never an empty result.
func (e *Engine) Evaluate(ctx context.Context, input ast.Value) ([]Violation, error) {
	if len(e.enabled) == 0 {
		return []Violation{}, nil
	}
	if e.observe != nil {
		start := time.Now()
		defer func() { e.observe(time.Since(start)) }()
	}
	var sets [2]map[string]any
	for i, q := range e.queries {
		var err error
		if sets[i], err = q.eval(ctx, input); err != nil {
			return nil, fmt.Errorf("evaluating policies: %w", err)
		}
	}
	var out []Violation
	for _, p := range e.enabled {
		items, ok := sets[p.query][p.set].([]any)
		if !ok {
			return nil, fmt.Errorf("evaluating policies: the violations of policy %s are %T, not a set", p.id, sets[p.query][p.set])
		}
		for _, it := range items {
			v, err := violation(p, it)
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

// eval evaluates q and returns its violation sets by key.
func (q query) eval(ctx context.Context, input ast.Value) (map[string]any, error) {
	rs, err := q.prepared.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("%d results, want 1 (a violation set is undefined)", len(rs))
	}
	if !q.inlined {
		return rs[0].Bindings, nil
	}
	if len(rs[0].Expressions) != 1 {
		return nil, fmt.Errorf("%d values, want 1", len(rs[0].Expressions))
	}
	sets, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the violation sets are %T, not an object", rs[0].Expressions[0].Value)
	}
	return sets, nil
}

// severity orders the actions a violation can carry, harshest last.
var severity = map[config.Action]int{config.Audit: 1, config.Warn: 2, config.Deny: 3}

// violation checks one output item of policy p against the contract and
// stamps it with p's id and action. An item may ask for a milder action
// than the configured one (warn or audit), never a harsher one: any other
// value is replaced by the configured action.
func violation(p enabledPolicy, it any) (Violation, error) {
	m, ok := it.(map[string]any)
	if !ok {
		return Violation{}, fmt.Errorf("policy %s output %v is not an object", p.id, it)
	}
	get := func(k string) (string, error) {
		s, ok := m[k].(string)
		if !ok || s == "" {
			return "", fmt.Errorf("policy %s broke the violation contract: %q must be a non-empty string, got %v", p.id, k, m[k])
		}
		return s, nil
	}
	v := Violation{Policy: p.id, Action: p.action}
	var err error
	for _, f := range []struct {
		key string
		dst *string
	}{{"rule", &v.Rule}, {"message", &v.Message}, {"field", &v.Field}, {"hint", &v.Hint}} {
		if *f.dst, err = get(f.key); err != nil {
			return Violation{}, err
		}
	}
	if asked, ok := m["action"].(string); ok {
		if a := config.Action(asked); (a == config.Warn || a == config.Audit) && severity[a] < severity[p.action] {
			v.Action = a
		}
	}
	return v, nil
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
