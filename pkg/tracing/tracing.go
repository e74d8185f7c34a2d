// Package tracing sets up OpenTelemetry tracing from the standard OTEL_*
// environment variables. It is off unless the environment asks for OTLP:
// then spans go, in batches, to an OTLP collector over HTTP/protobuf or
// gRPC, and W3C trace context links them to the caller's trace.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// The environment variables Setup reads itself; the exporters read the
// other OTEL_EXPORTER_OTLP_* variables (endpoint, headers, certificates,
// timeout, compression), the SDK reads OTEL_TRACES_SAMPLER(_ARG),
// OTEL_BSP_* and the resource reads OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES.
const (
	envSDKDisabled    = "OTEL_SDK_DISABLED"
	envExporter       = "OTEL_TRACES_EXPORTER"
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
)

// The OTLP protocols Setup supports.
const (
	protocolHTTP = "http/protobuf"
	protocolGRPC = "grpc"
)

// ServiceName is the service.name of the spans unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES name another.
const ServiceName = "microguard"

// settings is what the environment asks for: no tracing (on false), or
// OTLP over protocol.
type settings struct {
	on       bool
	protocol string
}

// fromEnv reads the settings. Tracing is on when the SDK is not disabled
// and OTEL_TRACES_EXPORTER is otlp, or is unset and an OTLP endpoint is set.
func fromEnv() (settings, error) {
	if strings.EqualFold(strings.TrimSpace(os.Getenv(envSDKDisabled)), "true") {
		return settings{}, nil
	}
	switch exp := strings.TrimSpace(os.Getenv(envExporter)); exp {
	case "none":
		return settings{}, nil
	case "":
		if os.Getenv(envEndpoint) == "" && os.Getenv(envTracesEndpoint) == "" {
			return settings{}, nil
		}
	case "otlp":
	default:
		return settings{}, fmt.Errorf("%s=%q: microguard exports traces over otlp only (or none)", envExporter, exp)
	}
	name, protocol := envTracesProtocol, strings.TrimSpace(os.Getenv(envTracesProtocol))
	if protocol == "" {
		name, protocol = envProtocol, strings.TrimSpace(os.Getenv(envProtocol))
	}
	switch protocol {
	case "":
		protocol = protocolHTTP
	case protocolHTTP, protocolGRPC:
	default:
		return settings{}, fmt.Errorf("%s=%q: the OTLP trace exporter speaks %s or %s", name, protocol, protocolHTTP, protocolGRPC)
	}
	return settings{on: true, protocol: protocol}, nil
}

// Setup configures tracing from the environment. When it is off the global
// tracer provider stays the no-op one and shutdown does nothing. When it is
// on, Setup installs an SDK tracer provider that exports in batches over
// OTLP, and the W3C tracecontext and baggage propagator; shutdown flushes
// the spans not yet exported and stops the exporter. Export errors are
// logged to log.
func Setup(ctx context.Context, log logr.Logger, serviceVersion string) (shutdown func(context.Context) error, err error) {
	s, err := fromEnv()
	if err != nil {
		return nil, err
	}
	if !s.on {
		return func(context.Context) error { return nil }, nil
	}
	var exp sdktrace.SpanExporter
	switch s.protocol {
	case protocolGRPC:
		exp, err = otlptracegrpc.New(ctx)
	default:
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter (%s): %w", s.protocol, err)
	}
	// Later detectors win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// override the defaults.
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(ServiceName), semconv.ServiceVersion(serviceVersion)),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("trace resource (OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	if err != nil {
		log.Error(err, "some trace resource attributes were dropped")
	}
	// No sampler option: the SDK takes OTEL_TRACES_SAMPLER and
	// OTEL_TRACES_SAMPLER_ARG, by default parentbased_always_on.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Error(err, "OpenTelemetry") }))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	log.Info("tracing", "exporter", "otlp", "protocol", s.protocol)
	return tp.Shutdown, nil
}
