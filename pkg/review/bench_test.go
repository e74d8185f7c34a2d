package review_test

import (
	"context"
	"encoding/json"
	"maps"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/microguard/microguard/pkg/admission"
	cfgpkg "github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/mutate"
	"github.com/microguard/microguard/pkg/podsecurity"
	"github.com/microguard/microguard/pkg/policy"
	"github.com/microguard/microguard/pkg/review"
	"github.com/microguard/microguard/policies"
)

// Benchmarks of policy evaluation alone: Reviewer.Evaluate on input decoded
// once outside the loop (admission.Decode and the namespace labels are what
// Validate adds on top; BenchmarkValidate* measure the whole decision). The
// reviewer is the one the other benchmarks use: the embedded bundle, the
// default config and, as these pods come unmutated, mutations-applied off
// (BenchmarkEvaluateMutatedPod measures it on).
//
//	go test -run '^$' -bench 'Evaluate|Validate|Stages|PerPolicy' -benchmem ./pkg/review/

var cronJobKind = metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}

// shopLabels are the labels the reviewer's namespace lister gives "shop".
var shopLabels = map[string]string{"owner": "ana", "team": "food"}

// decoded is req as Validate hands it to Evaluate: decoded, with the
// namespace labels set.
func decoded(tb testing.TB, req *admissionv1.AdmissionRequest) *admission.Input {
	tb.Helper()
	in, err := admission.Decode(req)
	if err != nil {
		tb.Fatal(err)
	}
	in.NamespaceLabels = maps.Clone(shopLabels)
	return in
}

// benchmarkEvaluate checks the decision once (so the benchmark measures the
// path it is named after), then measures Evaluate.
func benchmarkEvaluate(b *testing.B, rv *review.Reviewer, req *admissionv1.AdmissionRequest, allowed bool) {
	in := decoded(b, req)
	ctx := context.Background()
	res := rv.Evaluate(ctx, in)
	if res.Err != nil || res.Allowed != allowed || allowed != (len(res.Violations) == 0) {
		b.Fatalf("allowed %v (want %v), violations %+v, err %v", res.Allowed, allowed, res.Violations, res.Err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res := rv.Evaluate(ctx, in); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

// deniedPodObject is a pod without the owner label whose container runs
// privileged: denied by owner-labels and pod-security (privileged, and
// allowPrivilegeEscalation, which the API server requires unset or true
// for a privileged container).
func deniedPodObject() *corev1.Pod {
	p := podObject(nil)
	yes := true
	p.Spec.Containers[0].SecurityContext.Privileged = &yes
	p.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = &yes
	return p
}

// cronJobObject is a CronJob with the owner label on the object, the job
// template and the pod template, whose pod meets the restricted standard.
func cronJobObject() *batchv1.CronJob {
	owner := map[string]string{"owner": "ana"}
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Labels: owner},
		Spec: batchv1.CronJobSpec{
			Schedule: "0 3 * * *",
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: owner},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"owner": "ana", "app": "nightly"}},
					Spec:       podObject(nil).Spec,
				}},
			},
		},
	}
}

func BenchmarkEvaluatePod(b *testing.B) {
	benchmarkEvaluate(b, reviewer(b, ""), request(b, admissionv1.Create, "shop", podObject(map[string]string{"owner": "ana"}), podKind), true)
}

func BenchmarkEvaluatePodDenied(b *testing.B) {
	benchmarkEvaluate(b, reviewer(b, ""), request(b, admissionv1.Create, "shop", deniedPodObject(), podKind), false)
}

func BenchmarkEvaluateDeployment(b *testing.B) {
	owner := map[string]string{"owner": "ana"}
	benchmarkEvaluate(b, reviewer(b, ""), request(b, admissionv1.Create, "shop", deploymentObject(owner, owner), deploymentKind), true)
}

func BenchmarkEvaluateDeploymentDenied(b *testing.B) {
	benchmarkEvaluate(b, reviewer(b, ""), request(b, admissionv1.Create, "shop", deploymentObject(nil, nil), deploymentKind), false)
}

func BenchmarkEvaluateCronJob(b *testing.B) {
	benchmarkEvaluate(b, reviewer(b, ""), request(b, admissionv1.Create, "shop", cronJobObject(), cronJobKind), true)
}

// BenchmarkEvaluateMutatedPod is the pod as validation sees it in
// production: after the mutating webhook (labels, resources, OpenTelemetry
// env, annotation), with mutations-applied on (it re-runs every mutator on
// a copy of the pod) and off (the difference is that check).
func BenchmarkEvaluateMutatedPod(b *testing.B) {
	for _, check := range []string{"off", "deny"} {
		b.Run("mutations-applied="+check, func(b *testing.B) {
			rv := reviewer(b, "policies:\n  mutations-applied:\n    action: "+check+"\n")
			req := request(b, admissionv1.Create, "shop", podObject(map[string]string{"owner": "ana"}), podKind)
			mut := rv.Mutate(context.Background(), req)
			if mut.Err != nil || len(mut.Patch) == 0 {
				b.Fatalf("mutate: %+v", mut)
			}
			req.Object.Raw = patched(b, req.Object.Raw, mut.Patch)
			benchmarkEvaluate(b, rv, req, true)
		})
	}
}

func patched(tb testing.TB, raw []byte, ops any) []byte {
	tb.Helper()
	data, err := json.Marshal(ops)
	if err != nil {
		tb.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(data)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := patch.Apply(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func BenchmarkValidatePodDenied(b *testing.B) {
	benchmarkValidate(b, request(b, admissionv1.Create, "shop", deniedPodObject(), podKind))
}

func BenchmarkValidateCronJob(b *testing.B) {
	benchmarkValidate(b, request(b, admissionv1.Create, "shop", cronJobObject(), cronJobKind))
}

// BenchmarkPodStages splits the decision of one compliant Pod into the
// stages Validate runs, each measured alone:
//
//	decode    admission.Decode: JSON to map, FromUnstructured to the typed pod
//	pod-security-checks  upstream's Pod Security checks in Go (input.podSecurity)
//	input     in.Document and policy.Input (map to ast.Value: what topdown needs
//	          when the plan evaluator leaves a request to it)
//	engine    policy.Engine.EvaluateDocument on in.Document (the plan evaluator,
//	          Rego + result decoding), as Validate runs it
//	topdown   policy.Engine.Evaluate on the converted input (OPA's topdown)
//	missing   mutate.Chain.Missing, the mutations-applied check (pod unmutated:
//	          every mutator changes it, so each one's patch is computed)
//	missing-mutated  the same on the pod after the mutating webhook (the usual case)
func BenchmarkPodStages(b *testing.B) {
	ctx := context.Background()
	setup, err := review.Prepare(ctx, policies.FS, "")
	if err != nil {
		b.Fatal(err)
	}
	req := request(b, admissionv1.Create, "shop", podObject(map[string]string{"owner": "ana"}), podKind)
	in := decoded(b, req)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := admission.Decode(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pod-security-checks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			podSecurity(b, setup, in)
		}
	})
	in.PodSecurity = podSecurity(b, setup, in)
	b.Run("input", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := policy.Input(in.Document()); err != nil {
				b.Fatal(err)
			}
		}
	})
	doc := in.Document()
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if vs, err := setup.Engine.EvaluateDocument(ctx, doc); err != nil || len(vs) != 0 {
				b.Fatal(vs, err)
			}
		}
	})
	value, err := policy.Input(doc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("topdown", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if vs, err := setup.Engine.Evaluate(ctx, value); err != nil || len(vs) != 0 {
				b.Fatal(vs, err)
			}
		}
	})
	mc := mutate.Context{Namespace: "shop", NamespaceLabels: shopLabels}
	pod := in.Typed.(*corev1.Pod)
	b.Run("missing", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m, err := setup.Chain.Missing(pod, mc); err != nil || len(m) == 0 {
				b.Fatal(m, err)
			}
		}
	})
	rv := setup.Reviewer(namespaces{"shop": shopLabels}, logr.Discard())
	mut := rv.Mutate(ctx, req)
	mreq := *req
	mreq.Object.Raw = patched(b, req.Object.Raw, mut.Patch)
	mutated := decoded(b, &mreq).Typed.(*corev1.Pod)
	b.Run("missing-mutated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m, err := setup.Chain.Missing(mutated, mc); err != nil || len(m) != 0 {
				b.Fatal(m, err)
			}
		}
	})
}

// BenchmarkPodEnginePerPolicy is the engine's cost (EvaluateDocument, as
// Validate runs it) for one compliant Pod with one policy enabled at a
// time, and with none (nothing to evaluate).
func BenchmarkPodEnginePerPolicy(b *testing.B) {
	ctx := context.Background()
	setup, err := review.Prepare(ctx, policies.FS, "")
	if err != nil {
		b.Fatal(err)
	}
	in := decoded(b, request(b, admissionv1.Create, "shop", podObject(map[string]string{"owner": "ana"}), podKind))
	in.PodSecurity = podSecurity(b, setup, in)
	doc := in.Document()
	var ids []string
	for _, p := range setup.Bundle.Policies() {
		if setup.Config.Policies[p.ID].Action != cfgpkg.Off {
			ids = append(ids, p.ID)
		}
	}
	for _, only := range append([]string{"none"}, ids...) {
		b.Run(only, func(b *testing.B) {
			cfg := *setup.Config
			cfg.Policies = maps.Clone(setup.Config.Policies)
			for _, id := range ids {
				if id != only {
					p := cfg.Policies[id]
					p.Action = cfgpkg.Off
					cfg.Policies[id] = p
				}
			}
			engine, err := policy.NewEngine(ctx, setup.Bundle, &cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if vs, err := engine.EvaluateDocument(ctx, doc); err != nil || len(vs) != 0 {
					b.Fatal(vs, err)
				}
			}
		})
	}
}

// podSecurity is input.podSecurity for in, as the reviewer computes it.
func podSecurity(tb testing.TB, setup *review.Setup, in *admission.Input) map[string]any {
	meta, spec, ok := admission.TypedPod(in.Typed)
	if !ok || setup.PodSecurity == nil {
		tb.Fatalf("no pod security checks for %T", in.Typed)
	}
	return setup.PodSecurity.Evaluate(in.NamespaceLabels, []podsecurity.Pod{{Meta: meta, Spec: spec}})
}

// BenchmarkEvaluateLoadPods is policy evaluation of the pods the load tool
// (test/load) sends to /validate, without what the API server adds to them
// (defaults, managedFields): mutated by every default mutation, in
// namespaces that carry an env label, with image-signature on and the
// image's verification facts as the verifier gives them, allowed (namespace
// shop gives the owner) and denied (lab does not, and the container is
// privileged). The engine's cost with these namespaces differs from
// EvaluatePod's: a rule that reads a namespace label runs only here.
func BenchmarkEvaluateLoadPods(b *testing.B) {
	ctx := context.Background()
	setup, err := review.Prepare(ctx, policies.FS, "")
	if err != nil {
		b.Fatal(err)
	}
	setup.Config.Policies[review.MutationsApplied] = cfgpkg.Policy{Action: cfgpkg.Off}
	cfg := *setup.Config
	cfg.Policies = maps.Clone(setup.Config.Policies)
	cfg.Policies["image-signature"] = cfgpkg.Policy{Action: cfgpkg.Deny}
	engine, err := policy.NewEngine(ctx, setup.Bundle, &cfg)
	if err != nil {
		b.Fatal(err)
	}
	labels := namespaces{
		"shop": {"owner": "ana", "team": "food", "cost-center": "cc-1", "env": "prod"},
		"lab":  {"team": "food", "cost-center": "cc-1", "env": "dev"},
	}
	rv := setup.Reviewer(labels, logr.Discard())
	for _, c := range []struct {
		name, namespace string
		pod             *corev1.Pod
		violations      int
	}{
		{"allowed", "shop", podObject(map[string]string{"app": "menu"}), 0},
		{"denied", "lab", deniedPodObject(), 3},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := request(b, admissionv1.Create, c.namespace, c.pod, podKind)
			mut := rv.Mutate(ctx, req)
			if mut.Err != nil || len(mut.Patch) == 0 {
				b.Fatalf("mutate: %+v", mut)
			}
			req.Object.Raw = patched(b, req.Object.Raw, mut.Patch)
			in, err := admission.Decode(req)
			if err != nil {
				b.Fatal(err)
			}
			in.NamespaceLabels = labels[c.namespace]
			in.PodSecurity = podSecurity(b, setup, in)
			in.ImageVerification = map[string]any{}
			for _, img := range admission.Images(in.Pods[0].Spec) {
				in.ImageVerification[img] = map[string]any{"outcome": "verified", "reference": img, "rule": 0,
					"ruleImages": []any{"registry.example/**"}, "trusts": []any{"key.pub"}}
			}
			doc := in.Document()
			if vs, err := engine.EvaluateDocument(ctx, doc); err != nil || len(vs) != c.violations {
				b.Fatalf("violations %v (want %d), err %v", vs, c.violations, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := engine.EvaluateDocument(ctx, doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
