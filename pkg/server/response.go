package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/microguard/microguard/pkg/policy"
	"github.com/microguard/microguard/pkg/review"
)

// AuditAnnotation is the audit annotation key under which audit-only
// violations are recorded (the API server prefixes it with the webhook name).
const AuditAnnotation = "violations"

// DenialMessage is the message kubectl shows for a denial: one line per
// violation, in the order given (the engine sorts them), each with its field
// path and fix. With several
// violations a count comes first, so that every violation starts a line.
func DenialMessage(vs []policy.Violation) string {
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = v.String()
	}
	if len(lines) > 1 {
		return fmt.Sprintf("%d violations:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	return strings.Join(lines, "\n")
}

// Response turns a decision into an admission response. Enforcement, audit
// and warnings are three separate outputs: a Forbidden status, audit
// annotations and warnings.
func Response(res review.Result) admission.Response {
	if res.Err != nil {
		code := int32(http.StatusInternalServerError)
		if res.BadInput {
			code = http.StatusBadRequest
		}
		return admission.Errored(code, fmt.Errorf("microguard could not evaluate this request, so it is refused: %w", res.Err))
	}
	if res.Exempt != "" {
		return admission.Allowed("exempt: " + res.Exempt)
	}
	var resp admission.Response
	if res.Allowed {
		resp = admission.Allowed("")
	} else {
		resp = admission.Denied(DenialMessage(res.Denials()))
	}
	if lines := res.WarningLines(); len(lines) > 0 {
		resp = resp.WithWarnings(lines...)
	}
	if as := res.Audits(); len(as) > 0 {
		data, _ := json.Marshal(as)
		resp.AuditAnnotations = map[string]string{AuditAnnotation: string(data)}
	}
	return resp
}

// validator is the /validate handler.
type validator struct {
	rv      *reviewers
	log     logr.Logger
	rec     *Recorder
	metrics *Metrics
}

func (h validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	h.rec.begin()
	defer h.rec.end()
	ctx, span := startRequest(ctx, validateSpan, req)
	res := h.rv.Load().Validate(ctx, &req.AdmissionRequest)
	resp := h.rec.record(ctx, h.log, "validate", req, res, nil, Response(res), start)
	h.done("validate", req, res, resp, start)
	endRequest(span, res, resp)
	return resp
}

func (h validator) done(webhook string, req admission.Request, res review.Result, resp admission.Response, start time.Time) {
	d := time.Since(start)
	h.metrics.observe(webhook, req, res, resp, d)
	logDecision(h.log, webhook, req, res, resp, d)
}

// mutator is the /mutate handler.
type mutator struct {
	rv      *reviewers
	log     logr.Logger
	rec     *Recorder
	metrics *Metrics
}

func (h mutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	h.rec.begin()
	defer h.rec.end()
	ctx, span := startRequest(ctx, mutateSpan, req)
	res := h.rv.Load().Mutate(ctx, &req.AdmissionRequest)
	var resp admission.Response
	if res.Err != nil || res.Exempt != "" || len(res.Patch) == 0 {
		resp = h.rec.record(ctx, h.log, "mutate", req, res.Result, nil, Response(res.Result), start)
	} else {
		patch, err := patched(res.Patch)
		if err != nil {
			res.Result = review.Result{Err: err}
			resp = h.rec.record(ctx, h.log, "mutate", req, res.Result, nil, Response(res.Result), start)
		} else {
			resp = h.rec.record(ctx, h.log, "mutate", req, res.Result, res.Patch, patch, start)
		}
	}
	validator{log: h.log, metrics: h.metrics}.done("mutate", req, res.Result, resp, start)
	endRequest(span, res.Result, resp)
	return resp
}

// requestLog is the webhook's per-request logger: the base one.
// controller-runtime's default adds six request values to it twice per
// request (about 1.5% of a review's CPU under load) for lines at V(5) that
// are never written; logDecision names the request itself.
func requestLog(base logr.Logger, _ *admission.Request) logr.Logger { return base }

// webhookHandler is the handler New registers for h: POST only, the
// caller's trace context and deadline, then admissionWebhook. The tests
// and benchmarks build their handlers with it too, so that they exercise
// and measure what is served.
func webhookHandler(h admission.Handler) http.Handler {
	return postOnly(withTraceContext(withCallerDeadline(admissionWebhook(h))))
}

// admissionWebhook is controller-runtime's webhook for h, with requestLog
// and a panic answered as an error rather than taking the server down.
func admissionWebhook(h admission.Handler) *admission.Webhook {
	return (&admission.Webhook{Handler: h, LogConstructor: requestLog}).WithRecoverPanic(true)
}

// logDecision logs one answer: denials and errors at info (errors with
// their cause), admissions at V(1).
func logDecision(log logr.Logger, webhook string, req admission.Request, res review.Result, resp admission.Response, d time.Duration) {
	kv := []any{"webhook", webhook, "uid", req.UID, "operation", req.Operation, "kind", req.Kind.Kind,
		"namespace", req.Namespace, "name", req.Name, "allowed", resp.Allowed, "latencyMs", float64(d.Microseconds()) / 1000}
	switch {
	case res.Err != nil:
		log.Error(res.Err, "request not evaluated", kv...)
	case !resp.Allowed:
		log.Info("denied", append(kv, "violations", len(res.Violations))...)
	default:
		log.V(1).Info("admitted", kv...)
	}
}
