package review

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// tracer makes the spans of a review's stages (decode, verify, evaluate,
// mutate) under the request's span; it does nothing until tracing.Setup
// installs a tracer provider.
var tracer = otel.Tracer("github.com/microguard/microguard")

// startSpan starts a stage's span under the span in ctx. Under a span that
// is not recording (tracing off, the request not sampled, or no request
// span, as in `microguard check`) it starts none and costs nothing: the
// SDK's samplers would not record the stage either, as they decide by the
// parent or by the trace id, which the stage shares.
func startSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, noop.Span{}
	}
	return tracer.Start(ctx, name)
}

// endSpan ends a stage's span, with an error status when the stage failed.
func endSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
