package server

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/microguard/microguard/pkg/review"
)

// tracer makes the spans of the webhooks; it does nothing until
// tracing.Setup installs a tracer provider.
var tracer = otel.Tracer("github.com/microguard/microguard")

// The root span of each webhook's requests.
const (
	validateSpan = "admission " + ValidatePath
	mutateSpan   = "admission " + MutatePath
)

// The attributes of a request's root span, besides k8s.namespace.name.
const (
	attrUID        = attribute.Key("microguard.request.uid")
	attrKind       = attribute.Key("microguard.request.kind")
	attrOperation  = attribute.Key("microguard.request.operation")
	attrName       = attribute.Key("microguard.request.name")
	attrDecision   = attribute.Key("microguard.decision")
	attrViolations = attribute.Key("microguard.violations")
)

// withTraceContext makes the request's context carry the trace context of
// its headers (the API server sends traceparent when its own tracing is
// on), so that a request's root span is a child of the API server's span.
// With tracing off the global propagator reads nothing and the request
// goes on unchanged.
func withTraceContext(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header)); ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(w, r)
	})
}

// serverSpan are the options of a root span (made once: the variadic
// slice of a call would be allocated on every request).
var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// startRequest starts the root span of one admission request.
func startRequest(ctx context.Context, name string, req admission.Request) (context.Context, trace.Span) {
	ctx, span := tracer.Start(ctx, name, serverSpan...)
	if span.IsRecording() {
		span.SetAttributes(
			attrUID.String(string(req.UID)),
			semconv.K8SNamespaceName(req.Namespace),
			attrKind.String(req.Kind.Kind),
			attrOperation.String(string(req.Operation)),
			attrName.String(req.Name),
		)
	}
	return ctx, span
}

// endRequest ends the root span with the answer given: the decision, the
// number of violations and, when the request could not be evaluated, an
// error status.
func endRequest(span trace.Span, res review.Result, resp admission.Response) {
	if span.IsRecording() {
		span.SetAttributes(attrDecision.String(decision(res, resp)), attrViolations.Int(len(res.Violations)))
		if res.Err != nil {
			span.RecordError(res.Err)
			span.SetStatus(codes.Error, "request not evaluated")
		}
	}
	span.End()
}
