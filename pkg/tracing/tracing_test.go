package tracing

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// unsetEnv clears every variable Setup reads, for the test's duration.
func unsetEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{envSDKDisabled, envExporter, envEndpoint, envTracesEndpoint, envProtocol, envTracesProtocol} {
		t.Setenv(k, "")
	}
}

func TestSettingsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		on       bool
		protocol string
		errNames string // the variable a start-up error names
	}{
		{name: "off by default"},
		{name: "protocol alone is not enough", env: map[string]string{envProtocol: "grpc"}},
		{name: "endpoint turns it on", env: map[string]string{envEndpoint: "http://collector:4318"}, on: true, protocol: "http/protobuf"},
		{name: "traces endpoint turns it on", env: map[string]string{envTracesEndpoint: "http://collector:4318/v1/traces"}, on: true, protocol: "http/protobuf"},
		{name: "exporter otlp turns it on", env: map[string]string{envExporter: "otlp"}, on: true, protocol: "http/protobuf"},
		{name: "exporter none wins over an endpoint", env: map[string]string{envExporter: "none", envEndpoint: "http://collector:4318"}},
		{name: "SDK disabled wins", env: map[string]string{envSDKDisabled: "true", envExporter: "otlp", envEndpoint: "http://collector:4318"}},
		{name: "SDK disabled is case-insensitive", env: map[string]string{envSDKDisabled: "TRUE", envEndpoint: "http://collector:4318"}},
		{name: "SDK disabled false", env: map[string]string{envSDKDisabled: "false", envEndpoint: "http://collector:4318"}, on: true, protocol: "http/protobuf"},
		{name: "grpc", env: map[string]string{envExporter: "otlp", envProtocol: "grpc"}, on: true, protocol: "grpc"},
		{name: "traces protocol wins", env: map[string]string{envExporter: "otlp", envProtocol: "grpc", envTracesProtocol: "http/protobuf"}, on: true, protocol: "http/protobuf"},
		{name: "unknown exporter", env: map[string]string{envExporter: "zipkin"}, errNames: envExporter},
		{name: "several exporters", env: map[string]string{envExporter: "otlp,console"}, errNames: envExporter},
		{name: "unknown protocol", env: map[string]string{envExporter: "otlp", envProtocol: "http/json"}, errNames: envProtocol},
		{name: "unknown traces protocol", env: map[string]string{envEndpoint: "http://collector:4318", envProtocol: "grpc", envTracesProtocol: "thrift"}, errNames: envTracesProtocol},
		{name: "bad values do not matter when disabled", env: map[string]string{envSDKDisabled: "true", envExporter: "zipkin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unsetEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			s, err := fromEnv()
			if tc.errNames != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errNames+"=") {
					t.Fatalf("error %v, want one naming %s", err, tc.errNames)
				}
				if _, err := Setup(context.Background(), logr.Discard(), "test"); err == nil {
					t.Fatal("Setup accepted the environment")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.on != tc.on || s.protocol != tc.protocol {
				t.Errorf("got on=%v protocol=%q, want on=%v protocol=%q", s.on, s.protocol, tc.on, tc.protocol)
			}
		})
	}
}

// keepGlobals restores the global tracer provider, propagator and error
// handler at the end of the test if Setup replaced them.
func keepGlobals(t *testing.T) {
	t.Helper()
	tp, prop, eh := otel.GetTracerProvider(), otel.GetTextMapPropagator(), otel.GetErrorHandler()
	t.Cleanup(func() {
		if otel.GetTracerProvider() == tp {
			return
		}
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(prop)
		otel.SetErrorHandler(eh)
	})
}

func TestSetupOffLeavesTheNoopProvider(t *testing.T) {
	unsetEnv(t)
	keepGlobals(t)
	before, prop := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	shutdown, err := Setup(context.Background(), logr.Discard(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != before {
		t.Error("Setup replaced the tracer provider with tracing off")
	}
	// Compared by identity, not by its fields: once another test has set a
	// propagator, otel's default one delegates to it for good.
	if after := otel.GetTextMapPropagator(); fmt.Sprintf("%T %p", after, after) != fmt.Sprintf("%T %p", prop, prop) {
		t.Errorf("Setup replaced the propagator (%T, fields %v) with tracing off", after, after.Fields())
	}
	if err := shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestSetupOnInstallsProviderAndPropagator(t *testing.T) {
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		t.Run(protocol, func(t *testing.T) {
			unsetEnv(t)
			keepGlobals(t)
			// Nothing listens there; no span is made, so nothing is sent.
			t.Setenv(envEndpoint, "http://127.0.0.1:1")
			t.Setenv(envProtocol, protocol)
			shutdown, err := Setup(context.Background(), logr.Discard(), "test")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); !ok {
				t.Errorf("tracer provider %T, want the SDK's", otel.GetTracerProvider())
			}
			fields := strings.Join(otel.GetTextMapPropagator().Fields(), ",")
			if !strings.Contains(fields, "traceparent") || !strings.Contains(fields, "baggage") {
				t.Errorf("propagator fields %s, want traceparent and baggage", fields)
			}
			if err := shutdown(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
}
