package policy

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/microguard/microguard/pkg/config"
)

func policyFile(annotation, body string) string {
	return annotation + "package microguard.policies.demo\n\n" + body
}

const goodAnnotation = `# METADATA
# title: demo
# custom:
#   id: demo
#   options:
#     labels:
#       type: stringList
#       default: [owner]
#       description: labels
`

const goodBody = `violation contains {"rule": "r", "message": "m", "field": "metadata.name", "hint": "h"} if input.object.bad
`

func bundle(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, src := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	return fsys
}

func TestLoadBundleRefusesBrokenContracts(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no policy", map[string]string{}, "no package under data.microguard.policies"},
		{"no annotation", map[string]string{"demo/demo.rego": policyFile("", goodBody)}, "no METADATA annotation"},
		{"bad id", map[string]string{"demo/demo.rego": policyFile(strings.Replace(goodAnnotation, "id: demo", "id: Demo_Policy", 1), goodBody)}, "must be lower-case words"},
		{"no violation rule", map[string]string{"demo/demo.rego": policyFile(goodAnnotation, "deny contains 1 if true\n")}, `defines no partial set rule "violation"`},
		{"violation not a set", map[string]string{"demo/demo.rego": policyFile(goodAnnotation, "violation := 1\n")}, `defines no partial set rule "violation"`},
		{"bad option type", map[string]string{"demo/demo.rego": policyFile(strings.Replace(goodAnnotation, "type: stringList", "type: list", 1), goodBody)}, `type "list" is not one of`},
		{"bad default", map[string]string{"demo/demo.rego": policyFile(strings.Replace(goodAnnotation, "default: [owner]", "default: owner", 1), goodBody)}, "expected a list of strings"},
		{"option without description", map[string]string{"demo/demo.rego": policyFile(strings.Replace(goodAnnotation, "#       description: labels\n", "", 1), goodBody)}, "has no description"},
		{"bad default action", map[string]string{"demo/demo.rego": policyFile(strings.Replace(goodAnnotation, "#   id: demo\n", "#   id: demo\n#   defaultAction: block\n", 1), goodBody)}, `defaultAction "block"`},
		{"duplicate id", map[string]string{
			"demo/demo.rego":   policyFile(goodAnnotation, goodBody),
			"other/other.rego": strings.Replace(policyFile(goodAnnotation, goodBody), "policies.demo", "policies.other", 1),
		}, `policy id "demo" is already declared`},
		{"nested package", map[string]string{"demo/demo.rego": strings.Replace(policyFile(goodAnnotation, goodBody), "policies.demo", "policies.demo.deep", 1)}, "one level deep"},
		{"parse error", map[string]string{"demo/demo.rego": policyFile(goodAnnotation, "violation contains {")}, "parsing demo/demo.rego"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBundle(bundle(tc.files))
			if err == nil {
				t.Fatal("bundle accepted; want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestLoadBundleReadsPolicies(t *testing.T) {
	b, err := LoadBundle(bundle(map[string]string{
		"demo/demo.rego":      policyFile(goodAnnotation, goodBody),
		"demo/demo_test.rego": "this is not even rego", // tests are not part of the bundle
	}))
	if err != nil {
		t.Fatal(err)
	}
	ps := b.Policies()
	if len(ps) != 1 || ps[0].ID != "demo" || ps[0].Package != "demo" || ps[0].Spec.DefaultAction != config.Deny {
		t.Fatalf("policies = %+v", ps)
	}
	if o := ps[0].Spec.Options["labels"]; o.Type != config.StringList {
		t.Fatalf("labels option = %+v", o)
	}
	if !strings.HasPrefix(b.Revision(), "sha256:") {
		t.Fatalf("revision %q", b.Revision())
	}
}

func engine(t *testing.T, body string, action config.Action, opts ...EngineOption) *Engine {
	t.Helper()
	b, err := LoadBundle(bundle(map[string]string{"demo/demo.rego": policyFile(goodAnnotation, body)}))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default(config.Schema{Policies: b.Schema()})
	cfg.Policies["demo"] = config.Policy{Action: action, Options: cfg.Policies["demo"].Options}
	e, err := NewEngine(context.Background(), b, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// evaluate evaluates doc with topdown (Evaluate) and with the plan
// evaluator itself (not EvaluateDocument, which would hide its errors
// behind topdown's answer), which must agree: the same violations, or both
// an error.
func evaluate(t *testing.T, e *Engine, doc map[string]any) ([]Violation, error) {
	t.Helper()
	v, err := Input(doc)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := e.Evaluate(context.Background(), v)
	if len(e.enabled) == 0 {
		return vs, err
	}
	if e.plan == nil {
		t.Fatalf("the engine evaluates with %s, not the plan evaluator", e.Evaluator())
	}
	planned, planErr := e.plan.evaluate(context.Background(), e.enabled, doc)
	if (err == nil) != (planErr == nil) || !reflect.DeepEqual(vs, planned) {
		t.Fatalf("topdown gives %+v, %v; the plan evaluator %+v, %v", vs, err, planned, planErr)
	}
	return vs, err
}

func TestEvaluateStampsPolicyAndAction(t *testing.T) {
	e := engine(t, goodBody, config.Warn)
	vs, err := evaluate(t, e, map[string]any{"object": map[string]any{"bad": true}})
	if err != nil {
		t.Fatal(err)
	}
	want := Violation{Policy: "demo", Rule: "r", Action: config.Warn, Message: "m", Field: "metadata.name", Hint: "h"}
	if len(vs) != 1 || vs[0] != want {
		t.Fatalf("violations = %+v, want [%+v]", vs, want)
	}
	if got := vs[0].String(); got != "[demo/r] m (field: metadata.name). Fix: h" {
		t.Fatalf("String() = %q", got)
	}
	if vs, _ := evaluate(t, e, map[string]any{"object": map[string]any{}}); len(vs) != 0 {
		t.Fatalf("clean input gave %+v", vs)
	}
}

// A violation may ask for a milder action than the policy's (warn or
// audit), never a harsher one; anything else gets the policy's action.
func TestViolationActionIsNeverHarsher(t *testing.T) {
	for _, c := range []struct {
		configured config.Action
		asked      string
		want       config.Action
	}{
		{config.Deny, `"warn"`, config.Warn},
		{config.Deny, `"audit"`, config.Audit},
		{config.Deny, `"deny"`, config.Deny},
		{config.Warn, `"audit"`, config.Audit},
		{config.Warn, `"deny"`, config.Warn},
		{config.Warn, `"off"`, config.Warn},
		{config.Warn, `1`, config.Warn},
		{config.Audit, `"warn"`, config.Audit},
	} {
		body := `violation contains {"rule": "r", "message": "m", "field": "f", "hint": "h", "action": ` + c.asked + `} if input.object.bad` + "\n"
		vs, err := evaluate(t, engine(t, body, c.configured), map[string]any{"object": map[string]any{"bad": true}})
		if err != nil || len(vs) != 1 {
			t.Fatalf("%s asking %s: %+v, %v", c.configured, c.asked, vs, err)
		}
		if vs[0].Action != c.want || vs[0].Policy != "demo" {
			t.Errorf("policy action %s, violation asks %s: got %s (policy %q), want %s", c.configured, c.asked, vs[0].Action, vs[0].Policy, c.want)
		}
	}
}

// The input may hold Go values the decoder never gives (the Pod Security
// gate's int pod index, a []string): both evaluators read them alike.
func TestEvaluateReadsOtherGoValues(t *testing.T) {
	e := engine(t, `violation contains {"rule": "r", "message": sprintf("%d %s %s", [input.object.n + 1, input.object.list[1], input.object.m.k]), "field": "f", "hint": "h"} if {
	input.object.n == 3
	input.pods[input.object.n - 3].ok
}
`, config.Deny)
	doc := map[string]any{"object": map[string]any{"n": 3, "list": []string{"a", "b"}, "m": map[string]string{"k": "v"}},
		"pods": []any{map[string]any{"ok": true}}}
	vs, err := evaluate(t, e, doc)
	if err != nil || len(vs) != 1 || vs[0].Message != "4 b v" {
		t.Fatalf("violations %+v, error %v; want one with message \"4 b v\"", vs, err)
	}
}

// The plan evaluator runs a rule's body in full where topdown's rule index
// skips it: a built-in function's error there is not topdown's, so
// topdown decides such a request (here: no violation, no error).
func TestEvaluateDocumentLeavesPlanErrorsToTopdown(t *testing.T) {
	e := engine(t, `violation contains {"rule": "r", "message": sprintf("%v", [n]), "field": "f", "hint": "h"} if {
	n := to_number(input.object.x)
	input.object.kind == "Pod"
}
`, config.Deny, AsWritten())
	var seen []error
	e.OnFallback(func(err error) { seen = append(seen, err) })
	doc := map[string]any{"object": map[string]any{"kind": "Deployment", "x": "abc"}}
	if _, err := e.plan.evaluate(context.Background(), e.enabled, doc); err == nil {
		t.Fatal("the plan evaluator itself gives no error: the test no longer tests the fallback")
	}
	if vs, err := e.EvaluateDocument(context.Background(), doc); err != nil || len(vs) != 0 {
		t.Fatalf("violations %+v, error %v; want none", vs, err)
	}
	if e.Fallbacks() != 1 || len(seen) != 1 || !strings.Contains(seen[0].Error(), "to_number") {
		t.Fatalf("%d fallbacks, errors %v; want one, to_number's", e.Fallbacks(), seen)
	}
	doc["object"].(map[string]any)["kind"] = "Pod"
	if vs, err := e.EvaluateDocument(context.Background(), doc); err == nil {
		t.Fatalf("violations %+v, want topdown's to_number error", vs)
	}
}

func TestOffPolicyIsNotEvaluated(t *testing.T) {
	e := engine(t, goodBody, config.Off)
	vs, err := evaluate(t, e, map[string]any{"object": map[string]any{"bad": true}})
	if err != nil || len(vs) != 0 {
		t.Fatalf("off policy gave %+v, %v", vs, err)
	}
}

func TestEvaluateRefusesOutputThatBreaksTheContract(t *testing.T) {
	cases := map[string]string{
		"missing hint":  `violation contains {"rule": "r", "message": "m", "field": "f"} if true` + "\n",
		"empty field":   `violation contains {"rule": "r", "message": "m", "field": "", "hint": "h"} if true` + "\n",
		"not an object": `violation contains "oops" if true` + "\n",
		"runtime error": `violation contains {"rule": "r", "message": "m", "field": "f", "hint": sprintf("%d", [1/count(input.object)])} if true` + "\n",
	}
	for name, body := range cases {
		for _, opts := range [][]EngineOption{nil, {AsWritten()}} {
			t.Run(fmt.Sprintf("%s/as-written=%v", name, opts != nil), func(t *testing.T) {
				vs, err := evaluate(t, engine(t, body, config.Deny, opts...), map[string]any{"object": map[string]any{}})
				if err == nil {
					t.Fatalf("no error; got %+v", vs)
				}
			})
		}
	}
}

// Evaluations at once share the values of the rules that depend on the
// config alone (computed once, frozen): each still gets its own answer
// (go test -race holds them to read-only use).
func TestPlanEvaluatesConcurrentlyWithConstantRules(t *testing.T) {
	e := engine(t, `allowed := {x | some x in ["a", "c", "b"]}

order := concat(",", [x | some x in allowed])

violation contains {"rule": "r", "message": order, "field": "f", "hint": concat(" ", sort(allowed))} if not input.object.name in allowed
`, config.Deny)
	var constant int
	for _, f := range e.plan.prog.funcs {
		if f.constant {
			constant++
		}
	}
	if constant < 2 {
		t.Fatalf("%d rules computed once, want allowed and order at least", constant)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 200 {
				name, want := "a", 0
				if (g+i)%2 == 0 {
					name, want = "z", 1
				}
				vs, err := e.plan.evaluate(context.Background(), e.enabled, map[string]any{"object": map[string]any{"name": name}})
				if err != nil || len(vs) != want || (want == 1 && (vs[0].Message != "a,b,c" || vs[0].Hint != "a b c")) {
					errs <- fmt.Errorf("%+v (want %d), error %v", vs, want, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// One engine serves every request at once: concurrent evaluations of
// different inputs each get their own answer (go test -race also holds the
// shared compiler, queries and store to read-only use).
func TestEvaluateConcurrently(t *testing.T) {
	for _, opts := range [][]EngineOption{nil, {AsWritten()}} {
		e := engine(t, goodBody, config.Deny, opts...)
		bad, err := Input(map[string]any{"object": map[string]any{"bad": true}})
		if err != nil {
			t.Fatal(err)
		}
		good, err := Input(map[string]any{"object": map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		for g := range 8 {
			go func() {
				for i := range 200 {
					in, want := good, 0
					if (g+i)%2 == 0 {
						in, want = bad, 1
					}
					vs, err := e.Evaluate(context.Background(), in)
					if err != nil || len(vs) != want {
						errs <- fmt.Errorf("as-written=%v: %d violations (want %d), error %v", opts != nil, len(vs), want, err)
						return
					}
					doc := map[string]any{"object": map[string]any{"bad": want == 1}}
					if vs, err = e.plan.evaluate(context.Background(), e.enabled, doc); err != nil || len(vs) != want {
						errs <- fmt.Errorf("plan evaluator: %d violations (want %d), error %v", len(vs), want, err)
						return
					}
				}
				errs <- nil
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}
}

// An evaluation that its context cancels stops with OPA's cancel error
// (the webhook then refuses the request), in both engines: a policy that
// loops over nine million pairs never gets to finish.
func TestEvaluateStopsWhenTheContextIsDone(t *testing.T) {
	body := `violation contains {"rule": "r", "message": "m", "field": "f", "hint": "h"} if {
	some i in numbers.range(1, input.object.n)
	some j in numbers.range(1, input.object.n)
	i + j < 0
}
`
	for _, opts := range [][]EngineOption{nil, {AsWritten()}} {
		e := engine(t, body, config.Deny, opts...)
		v, err := Input(map[string]any{"object": map[string]any{"n": int64(3000)}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		vs, err := e.Evaluate(ctx, v)
		cancel()
		var te *topdown.Error
		if !errors.As(err, &te) || te.Code != topdown.CancelErr {
			t.Errorf("as-written=%v: violations %v, error %v; want OPA's cancel error", opts != nil, vs, err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
		vs, err = e.EvaluateDocument(ctx, map[string]any{"object": map[string]any{"n": int64(3000)}})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("plan evaluator: violations %v, error %v; want the context's deadline", vs, err)
		}
	}
}

// A bundle the plan evaluator cannot run (here a policy that reads the
// clock) is evaluated with topdown, and EvaluateDocument says so and still
// decides.
func TestEvaluateDocumentFallsBackToTopdown(t *testing.T) {
	e := engine(t, `violation contains {"rule": "r", "message": "m", "field": "f", "hint": "h"} if {
	input.object.bad
	time.now_ns() > 0
}
`, config.Deny)
	if got := e.Evaluator(); !strings.HasPrefix(got, "topdown (") || !strings.Contains(got, "time.now_ns") {
		t.Fatalf("Evaluator() = %q, want topdown and why", got)
	}
	vs, err := e.EvaluateDocument(context.Background(), map[string]any{"object": map[string]any{"bad": true}})
	if err != nil || len(vs) != 1 {
		t.Fatalf("violations %+v, error %v; want one", vs, err)
	}
	if e := engine(t, goodBody, config.Deny, Topdown()); e.Evaluator() != "topdown" {
		t.Fatalf("with Topdown(): Evaluator() = %q", e.Evaluator())
	}
}

// A rule that fails on the config alone fails when the engine is built
// (partial evaluation runs it), naming the file and line, not on the first
// request.
func TestConfigOnlyRuntimeErrorFailsAtStart(t *testing.T) {
	b, err := LoadBundle(bundle(map[string]string{"demo/demo.rego": policyFile(goodAnnotation,
		`violation contains {"rule": "r", "message": "m", "field": "f", "hint": sprintf("%d", [1/(count(data.microguard.config.policies.demo.labels) - 1)])} if input.object.bad`+"\n")}))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default(config.Schema{Policies: b.Schema()})
	_, err = NewEngine(context.Background(), b, cfg)
	if err == nil || !strings.Contains(err.Error(), "demo/demo.rego:") || !strings.Contains(err.Error(), "divide by zero") {
		t.Fatalf("NewEngine error %v, want the division by zero at demo/demo.rego", err)
	}
}

// The engine package is microguard's own: a bundle module may not declare it.
func TestBundleRefusesTheEnginePackage(t *testing.T) {
	_, err := LoadBundle(bundle(map[string]string{
		"demo/demo.rego": policyFile(goodAnnotation, goodBody),
		"lib/x.rego":     "package microguard.engine\n\nviolations := {}\n",
	}))
	if err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("LoadBundle error %v, want the engine package refused", err)
	}
}

// custom.inline must be a bool.
func TestBundleRefusesANonBoolInline(t *testing.T) {
	ann := strings.Replace(goodAnnotation, "#   id: demo\n", "#   id: demo\n#   inline: maybe\n", 1)
	if ann == goodAnnotation {
		t.Fatal("the annotation has no id line to add inline after")
	}
	_, err := LoadBundle(bundle(map[string]string{"demo/demo.rego": policyFile(ann, goodBody)}))
	if err == nil || !strings.Contains(err.Error(), "custom.inline") {
		t.Fatalf("LoadBundle error %v, want custom.inline refused", err)
	}
}

func TestSortIsStable(t *testing.T) {
	vs := []Violation{
		{Policy: "b", Rule: "a", Field: "x"},
		{Policy: "a", Rule: "z", Field: "y"},
		{Policy: "a", Rule: "a", Field: "z"},
		{Policy: "a", Rule: "a", Field: "b", Message: "2"},
		{Policy: "a", Rule: "a", Field: "b", Message: "1"},
	}
	Sort(vs)
	got := ""
	for _, v := range vs {
		got += v.Policy + v.Rule + v.Field + v.Message + " "
	}
	if got != "aab1 aab2 aaz azy bax " {
		t.Fatalf("order = %q", got)
	}
}
