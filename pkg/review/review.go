// Package review makes one admission decision: it applies the exemptions,
// decodes the request, evaluates the policies and runs the mutators. The
// webhook server and `microguard check` both decide through it.
package review

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/microguard/microguard/pkg/admission"
	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/exception"
	"github.com/microguard/microguard/pkg/mutate"
	"github.com/microguard/microguard/pkg/podsecurity"
	"github.com/microguard/microguard/pkg/policy"
	"github.com/microguard/microguard/pkg/verify"
)

// Namespaces gives the labels of a namespace. ok is false when the
// namespace is not known (yet); the request is then refused.
type Namespaces interface {
	Labels(ctx context.Context, namespace string) (labels map[string]string, ok bool, err error)
}

// Reviewer decides admission requests. It is safe for concurrent use.
type Reviewer struct {
	cfg        *config.Config
	engine     *policy.Engine
	chain      *mutate.Chain
	namespaces Namespaces
	storage    StorageClasses
	verifier   *verify.Verifier
	podSec     *podsecurity.Evaluator
	log        logr.Logger
	now        func() time.Time
}

// New builds a reviewer. namespaces may be nil when namespace labels come
// with each input (as in `microguard check`).
func New(cfg *config.Config, engine *policy.Engine, chain *mutate.Chain, namespaces Namespaces, log logr.Logger) *Reviewer {
	return &Reviewer{cfg: cfg, engine: engine, chain: chain, namespaces: namespaces, log: log, now: time.Now}
}

// Result is one decision.
type Result struct {
	// Allowed is false when a deny violation was found or the request could
	// not be evaluated.
	Allowed    bool
	Violations []policy.Violation
	// Exempt says why the request was admitted untouched ("" when it was not).
	Exempt string
	// Err is set when the request could not be evaluated; the request is
	// then refused. BadInput tells a malformed request from a server fault.
	Err      error
	BadInput bool
	// Images are the images of the request and what signature
	// verification found (or, from the mutating webhook, the digests they
	// were pinned to).
	Images []ImageFact
}

// ImageFact is one image of a request: as written, the repository@digest
// that was verified or pinned, and the outcome.
type ImageFact struct {
	Image, Reference, Outcome string
}

// Denials, Warnings and Audits split the violations that no exception
// waived by action; Waived are those an exception waived.
func (r Result) Denials() []policy.Violation  { return r.by(config.Deny) }
func (r Result) Warnings() []policy.Violation { return r.by(config.Warn) }
func (r Result) Audits() []policy.Violation   { return r.by(config.Audit) }

func (r Result) Waived() []policy.Violation {
	var out []policy.Violation
	for _, v := range r.Violations {
		if v.Exception != nil {
			out = append(out, v)
		}
	}
	return out
}

// WarningLines are the AdmissionResponse warnings: warn violations, and
// the violations an exception waived, with the exception.
func (r Result) WarningLines() []string {
	var out []string
	for _, v := range r.Warnings() {
		out = append(out, v.String())
	}
	for _, v := range r.Waived() {
		out = append(out, exception.Note(v))
	}
	return out
}

func (r Result) by(a config.Action) []policy.Violation {
	var out []policy.Violation
	for _, v := range r.Violations {
		if v.Action == a && v.Exception == nil {
			out = append(out, v)
		}
	}
	return out
}

func fail(err error) Result {
	return Result{Err: err, BadInput: admission.IsBadInput(err)}
}

// exempt reports whether the request is admitted untouched, and why.
func (rv *Reviewer) exempt(req *admissionv1.AdmissionRequest) (string, bool) {
	if admission.Skip(req) {
		return "operation " + string(req.Operation), true
	}
	return rv.cfg.Exemptions.Exempt(req.Namespace, req.UserInfo.Username, req.UserInfo.Groups)
}

// Validate decides a request for the validating webhook.
func (rv *Reviewer) Validate(ctx context.Context, req *admissionv1.AdmissionRequest) Result {
	if err := admission.CheckRequest(req); err != nil {
		return fail(err)
	}
	if why, ok := rv.exempt(req); ok {
		return Result{Allowed: true, Exempt: why}
	}
	_, span := startSpan(ctx, "decode")
	in, err := admission.Decode(req)
	endSpan(span, err)
	if err != nil {
		return fail(err)
	}
	if err := rv.namespaceLabels(ctx, in); err != nil {
		return fail(err)
	}
	if err := rv.storageClass(ctx, in); err != nil {
		return fail(err)
	}
	return rv.Evaluate(ctx, in)
}

// Evaluate runs the policies on decoded input whose namespace labels are set.
func (rv *Reviewer) Evaluate(ctx context.Context, in *admission.Input) Result {
	var images map[string]verify.Result
	if rv.verifier != nil && len(in.Pods) > 0 {
		vctx, span := startSpan(ctx, "verify")
		images = rv.verifyImages(vctx, in)
		span.End()
	}
	ctx, span := startSpan(ctx, "evaluate")
	defer span.End()
	if rv.podSec != nil && in.Typed != nil {
		if meta, spec, ok := admission.TypedPod(in.Typed); ok {
			in.PodSecurity = rv.podSec.Evaluate(in.NamespaceLabels, []podsecurity.Pod{{Meta: meta, Spec: spec}})
		}
	}
	vs, err := rv.engine.EvaluateDocument(ctx, in.Document())
	if err != nil {
		return fail(err)
	}
	missing, err := rv.verifyMutations(in, digestsOf(images))
	if err != nil {
		return fail(err)
	}
	if len(missing) > 0 {
		vs = append(vs, missing...)
		policy.Sort(vs)
	}
	vs = exception.Set(rv.cfg.Exceptions).Apply(rv.now(), in, vs)
	res := Result{Allowed: true, Violations: vs, Images: imageFacts(in, images)}
	res.Allowed = len(res.Denials()) == 0
	return res
}

func (rv *Reviewer) namespaceLabels(ctx context.Context, in *admission.Input) error {
	ns := in.Request.Namespace
	if ns == "" || rv.namespaces == nil {
		return nil
	}
	labels, ok, err := rv.namespaces.Labels(ctx, ns)
	if err != nil {
		// Typically the API server is unreachable: the informer keeps the
		// namespaces it saw, but this one it never saw.
		return unknownNamespace(ns, fmt.Errorf("reading it from the API server failed: %w", err), "the API server answers")
	}
	if !ok {
		// Deciding without the labels could allow more, not only less
		// (owner-labels requiredByEnv reads the namespace's env label), so
		// the request is refused, by /mutate too (rather than mutating with
		// guessed labels): the API server takes an errored answer as a
		// rejection, not as a failure its failurePolicy would ignore.
		return unknownNamespace(ns, errors.New("the API server did not return it"), "the namespace exists")
	}
	in.NamespaceLabels = labels
	return nil
}

// unknownNamespace refuses a request whose namespace labels are not known.
func unknownNamespace(ns string, why error, retry string) error {
	return fmt.Errorf("microguard does not know namespace %q (not in its cache, and %w): refused, as its labels decide policies; retry once %s", ns, why, retry)
}

// MutateResult is a decision of the mutating webhook.
type MutateResult struct {
	Result
	Patch   []jsonpatch.Operation
	Applied []string // ids of the mutators that changed the pod
}

// Mutate decides a request for the mutating webhook: Pods are mutated,
// workload objects are left as their authors wrote them.
func (rv *Reviewer) Mutate(ctx context.Context, req *admissionv1.AdmissionRequest) MutateResult {
	if err := admission.CheckRequest(req); err != nil {
		return MutateResult{Result: fail(err)}
	}
	if why, ok := rv.exempt(req); ok {
		return MutateResult{Result: Result{Allowed: true, Exempt: why}}
	}
	if rv.chain == nil || rv.chain.Len() == 0 || req.Kind.Kind != "Pod" || req.Kind.Group != "" || req.SubResource != "" {
		return MutateResult{Result: Result{Allowed: true}}
	}
	_, span := startSpan(ctx, "decode")
	in, err := admission.Decode(req)
	endSpan(span, err)
	if err != nil {
		return MutateResult{Result: fail(err)}
	}
	if err := rv.namespaceLabels(ctx, in); err != nil {
		return MutateResult{Result: fail(err)}
	}
	return rv.MutateInput(ctx, in)
}

// MutateInput runs the mutators on decoded Pod input.
func (rv *Reviewer) MutateInput(ctx context.Context, in *admission.Input) MutateResult {
	pod, ok := in.Typed.(*corev1.Pod)
	if !ok || rv.chain == nil {
		return MutateResult{Result: Result{Allowed: true}}
	}
	var digests map[string]string
	if rv.verifier != nil {
		vctx, span := startSpan(ctx, "verify")
		digests = rv.pinnedDigests(vctx, in)
		span.End()
	}
	mc := mutate.Context{Namespace: in.Request.Namespace, NamespaceLabels: in.NamespaceLabels, Digests: digests}
	_, span := startSpan(ctx, "mutate")
	ops, applied, err := rv.chain.Apply(in.Request.Object.Raw, pod, mc)
	endSpan(span, err)
	if err != nil {
		return MutateResult{Result: fail(err)}
	}
	var facts []ImageFact
	for _, img := range slices.Sorted(maps.Keys(mc.Digests)) {
		facts = append(facts, ImageFact{Image: img, Reference: mc.Digests[img], Outcome: "pinned"})
	}
	return MutateResult{Result: Result{Allowed: true, Images: facts}, Patch: ops, Applied: applied}
}

// WithVerifier makes the reviewer verify image signatures with v (nil:
// never).
func (rv *Reviewer) WithVerifier(v *verify.Verifier) *Reviewer {
	rv.verifier = v
	return rv
}

// WithPodSecurity makes the reviewer run upstream's Pod Security checks
// with e ahead of the policies (nil: the pod-security policy's rules decide
// alone, at a higher cost).
func (rv *Reviewer) WithPodSecurity(e *podsecurity.Evaluator) *Reviewer {
	rv.podSec = e
	return rv
}

// WithClock makes the reviewer read the time from now (for exceptions).
func (rv *Reviewer) WithClock(now func() time.Time) *Reviewer {
	rv.now = now
	return rv
}
