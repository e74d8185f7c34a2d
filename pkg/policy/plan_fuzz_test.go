package policy

import (
	"context"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/microguard/microguard/pkg/admission"
	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/manifest"
	"github.com/microguard/microguard/pkg/podsecurity"
	"github.com/microguard/microguard/policies"
)

// fuzzKinds are the kinds the fuzzer's objects are decoded as.
var fuzzKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Pod"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
	{Version: "v1", Kind: "PersistentVolumeClaim"},
}

// FuzzPlanEvaluatorMatchesTopdown decides an object (the bundle's
// fixtures, mutated) with the plan evaluator and with OPA's topdown, with
// the default config and the input the webhook gives them (namespace
// labels, the Pod Security gate's failing checks): whenever the plan
// evaluator decides, it decides exactly as topdown (the same violations, in
// the same order). When it fails, EvaluateDocument leaves the request to
// topdown, so that case needs no agreement.
func FuzzPlanEvaluatorMatchesTopdown(f *testing.F) {
	b, err := LoadBundle(policies.FS)
	if err != nil {
		f.Fatal(err)
	}
	cfg := config.Default(config.Schema{Policies: b.Schema()})
	e, err := NewEngine(context.Background(), b, cfg)
	if err != nil {
		f.Fatal(err)
	}
	if e.plan == nil {
		f.Fatalf("the engine evaluates with %s", e.Evaluator())
	}
	gate, err := podsecurity.New(cfg.Policies["pod-security"].Options)
	if err != nil {
		f.Fatal(err)
	}
	// decide decodes raw as the webhook does and decides it with the plan
	// evaluator; ok is false for text that does not decode.
	decide := func(raw []byte, kind uint8, label string) (doc map[string]any, vs []Violation, ok bool, err error) {
		in, err := admission.DecodeObject(raw, fuzzKinds[int(kind)%len(fuzzKinds)], "shop", "menu")
		if err != nil {
			return nil, nil, false, nil
		}
		in.NamespaceLabels = map[string]string{"owner": label, "pod-security.kubernetes.io/enforce": label}
		if meta, spec, ok := admission.TypedPod(in.Typed); ok {
			in.PodSecurity = gate.Evaluate(in.NamespaceLabels, []podsecurity.Pod{{Meta: meta, Spec: spec}})
		}
		doc = in.Document()
		vs, err = e.plan.evaluate(context.Background(), e.enabled, doc)
		return doc, vs, true, err
	}
	files, err := b.Fixtures()
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		file, err := b.Open(name)
		if err != nil {
			f.Fatal(err)
		}
		objs, err := manifest.Read(name, file)
		file.Close()
		if err != nil {
			f.Fatal(err)
		}
		for _, o := range objs {
			for i, k := range fuzzKinds {
				if k != o.GVK {
					continue
				}
				// The plan evaluator decides every fixture itself.
				if _, _, ok, err := decide(o.Raw, uint8(i), "team-a"); ok && err != nil {
					f.Fatalf("%s: the plan evaluator fails: %v", o.Source, err)
				}
				f.Add(o.Raw, uint8(i), "team-a")
			}
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, kind uint8, label string) {
		doc, planned, ok, err := decide(raw, kind, label)
		if !ok || err != nil {
			return // EvaluateDocument leaves it to topdown
		}
		value, err := Input(doc)
		if err != nil {
			t.Fatalf("the plan evaluator decides %v; topdown's input: %v", planned, err)
		}
		want, err := e.Evaluate(context.Background(), value)
		if err != nil || !reflect.DeepEqual(planned, want) {
			t.Fatalf("the plan evaluator decides\n%v\ntopdown\n%v (error %v)", planned, want, err)
		}
	})
}
