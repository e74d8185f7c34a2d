package policy

import (
	"context"
	"fmt"
	"maps"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego test rule.
type TestResult struct {
	Name     string // package.rule
	Location string // file:line
	Passed   bool
	Error    string // set when the test could not run
}

// Test runs every _test.rego of the bundle's sources (as `opa test` would)
// against the whole bundle, and returns the results in a stable order.
func (b *Bundle) Test(ctx context.Context) ([]TestResult, error) {
	modules := maps.Clone(b.modules)
	err := b.walk(true, func(name string, src []byte) error {
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			return fmt.Errorf("parsing %s: %w", name, err)
		}
		modules[name] = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	ch, err := tester.NewRunner().SetModules(modules).SetDefaultRegoVersion(ast.RegoV1).RaiseBuiltinErrors(true).Run(ctx, modules)
	if err != nil {
		return nil, fmt.Errorf("running policy tests: %w", err)
	}
	var out []TestResult
	for r := range ch {
		res := TestResult{Name: r.Package + "." + r.Name, Passed: r.Pass()}
		if r.Location != nil {
			res.Location = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
		}
		if r.Error != nil {
			res.Error = r.Error.Error()
		}
		out = append(out, res)
	}
	return out, nil
}
