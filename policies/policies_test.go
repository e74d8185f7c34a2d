package policies_test

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/microguard/microguard/pkg/check"
	"github.com/microguard/microguard/pkg/manifest"
	"github.com/microguard/microguard/pkg/policy"
	"github.com/microguard/microguard/pkg/review"
	"github.com/microguard/microguard/policies"
)

var update = flag.Bool("update", false, "rewrite the golden files of the fixtures")

// TestRego runs every *_test.rego of the bundle with OPA's tester, as
// `opa test policies/` would.
func TestRego(t *testing.T) {
	b, err := policy.LoadBundle(policies.FS)
	if err != nil {
		t.Fatal(err)
	}
	results, err := b.Test(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		switch {
		case r.Error != "":
			t.Errorf("%s %s: %s", r.Location, r.Name, r.Error)
		case !r.Passed: // failed or skipped: a skipped test proves nothing
			t.Errorf("%s %s: FAIL", r.Location, r.Name)
		}
	}
	if len(results) == 0 {
		t.Fatal("no Rego test ran")
	}
	t.Logf("%d Rego tests ran", len(results))
}

// TestEveryPolicyHasTestsAndFixtures keeps the bundle's layout honest: each
// policy has a _test.rego beside it, a fixture that passes and one that fails.
func TestEveryPolicyHasTestsAndFixtures(t *testing.T) {
	for _, p := range prepare(t, "").Bundle.Policies() {
		dir := path.Dir(p.File)
		test := strings.TrimSuffix(p.File, ".rego") + "_test.rego"
		if _, err := fs.Stat(policies.FS, test); err != nil {
			t.Errorf("policy %s: no %s", p.ID, test)
		}
		rep := fixtures(t, prepare(t, dir), dir)
		var pass, fail bool
		for _, r := range rep.Results {
			pass = pass || r.Allowed
			fail = fail || !r.Allowed
		}
		if !pass || !fail {
			t.Errorf("policy %s: want fixtures in %s/testdata that are admitted and denied (admitted: %v, denied: %v)", p.ID, dir, pass, fail)
		}
	}
}

// TestFixtures decides every fixture of every policy and compares the
// decision with the golden file beside it (go test ./policies -update
// rewrites them).
func TestFixtures(t *testing.T) {
	for _, p := range prepare(t, "").Bundle.Policies() {
		setup := prepare(t, path.Dir(p.File))
		dir := path.Join(path.Dir(p.File), "testdata")
		entries, err := fs.ReadDir(policies.FS, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".yaml") || e.Name() == policy.FixtureConfig {
				continue
			}
			file := path.Join(dir, e.Name())
			t.Run(file, func(t *testing.T) {
				rep := decide(t, setup, file)
				var buf strings.Builder
				if err := rep.WriteJSON(&buf); err != nil {
					t.Fatal(err)
				}
				got := strings.TrimSpace(buf.String())
				golden := strings.TrimSuffix(file, ".yaml") + ".golden"
				if *update {
					if err := os.WriteFile(golden, []byte(got+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./policies -update)", err)
				}
				if strings.TrimSpace(string(want)) != got {
					t.Errorf("%s differs from the decision:\n got: %s\nwant: %s", golden, got, want)
				}
			})
		}
	}
}

// TestInliningChangesNoDecision decides every fixture of every policy with
// topdown on the policies partially evaluated against the config and
// inlined (as topdown runs them when the plan evaluator cannot) and on the
// policies as written: the two reports must be the same, byte for byte.
func TestInliningChangesNoDecision(t *testing.T) {
	decideAlike(t, "the inlined engine", "the policies as written", func(s *review.Setup) (*policy.Engine, *policy.Engine, error) {
		inlined, err := policy.NewEngine(context.Background(), s.Bundle, s.Config, policy.Topdown())
		if err != nil {
			return nil, nil, err
		}
		written, err := policy.NewEngine(context.Background(), s.Bundle, s.Config, policy.AsWritten(), policy.Topdown())
		return inlined, written, err
	}, nil)
}

// TestPlanEvaluatorChangesNoDecision decides every fixture of every policy
// with the engine as microguard builds it (the plan evaluator) and with
// OPA's topdown: the two reports must be the same, byte for byte, and the
// plan evaluator must have decided every fixture itself.
func TestPlanEvaluatorChangesNoDecision(t *testing.T) {
	decideAlike(t, "the plan evaluator", "topdown", func(s *review.Setup) (*policy.Engine, *policy.Engine, error) {
		if got := s.Engine.Evaluator(); got != "plan" {
			return nil, nil, fmt.Errorf("the engine evaluates with %s, not the plan evaluator", got)
		}
		td, err := policy.NewEngine(context.Background(), s.Bundle, s.Config, policy.Topdown())
		return s.Engine, td, err
	}, func(e *policy.Engine) error {
		if f := e.Fallbacks(); f != 0 {
			return fmt.Errorf("topdown decided %d fixtures in the plan evaluator's place", f)
		}
		return nil
	})
}

// decideAlike decides every fixture of every policy with the two engines
// that engines makes for the policy's setup (a, named aName, and b): the
// two reports must be the same, byte for byte. after, if not nil, checks a
// once the policy's fixtures are decided.
func decideAlike(t *testing.T, aName, bName string, engines func(*review.Setup) (a, b *policy.Engine, err error), after func(a *policy.Engine) error) {
	t.Helper()
	for _, p := range prepare(t, "").Bundle.Policies() {
		setup := prepare(t, path.Dir(p.File))
		a, b := *setup, *setup
		var err error
		if a.Engine, b.Engine, err = engines(setup); err != nil {
			t.Fatalf("policy %s: %v", p.ID, err)
		}
		dir := path.Join(path.Dir(p.File), "testdata")
		entries, err := fs.ReadDir(policies.FS, dir)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".yaml") || e.Name() == policy.FixtureConfig {
				continue
			}
			file := path.Join(dir, e.Name())
			var got, want strings.Builder
			if err := decide(t, &a, file).WriteJSON(&got); err != nil {
				t.Fatal(err)
			}
			if err := decide(t, &b, file).WriteJSON(&want); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%s: %s decides\n%s\n%s decides\n%s", file, aName, got.String(), bName, want.String())
			}
			n++
		}
		if n == 0 {
			t.Errorf("policy %s has no fixtures to compare", p.ID)
		}
		if after != nil {
			if err := after(a.Engine); err != nil {
				t.Errorf("policy %s: %v", p.ID, err)
			}
		}
	}
}

// prepare sets microguard up as the fixtures of the policy in dir are
// decided: with its testdata/config.yaml when there is one, else with the
// built-in defaults ("" for dir: always the defaults).
func prepare(t *testing.T, dir string) *review.Setup {
	t.Helper()
	config := ""
	if dir != "" {
		if _, err := fs.Stat(policies.FS, path.Join(dir, "testdata", policy.FixtureConfig)); err == nil {
			config = path.Join(dir, "testdata", policy.FixtureConfig)
		}
	}
	setup, err := review.Prepare(context.Background(), policies.FS, config)
	if err != nil {
		t.Fatal(err)
	}
	return setup
}

func fixtures(t *testing.T, setup *review.Setup, dir string) *check.Report {
	t.Helper()
	entries, err := fs.ReadDir(policies.FS, path.Join(dir, "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	all := &check.Report{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") && e.Name() != policy.FixtureConfig {
			all.Results = append(all.Results, decide(t, setup, path.Join(dir, "testdata", e.Name())).Results...)
		}
	}
	return all
}

func decide(t *testing.T, setup *review.Setup, file string) *check.Report {
	t.Helper()
	f, err := policies.FS.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	objs, err := manifest.Read(file, f)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := check.Objects(context.Background(), func(ns review.Namespaces) *review.Reviewer { return setup.Reviewer(ns, logr.Discard()) }, objs)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
