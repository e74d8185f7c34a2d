package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/pkg/tracing"
)

// The trace context the API server sends with its requests.
const (
	apiServerTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	apiServerSpanID  = "00f067aa0ba902b7"
	traceparent      = "00-" + apiServerTraceID + "-" + apiServerSpanID + "-01"
)

// tracedChildEnv marks the process that makes the traced requests.
const tracedChildEnv = "MICROGUARD_TEST_TRACED_REQUESTS"

// TestTraces drives the webhooks with tracing on and checks the spans an
// OTLP/HTTP collector receives. The requests are made by this same test
// re-run in a process of its own (tracedRequests): tracing.Setup sets the
// global tracer provider, and OpenTelemetry binds the package-level
// tracers to the first provider set for the life of the process, so in
// this one they would keep recording after the test (into benchmarks run
// after it) and a second run (-count 2) would export nothing.
func TestTraces(t *testing.T) {
	if os.Getenv(tracedChildEnv) != "" {
		tracedRequests(t) // the child's part
		return
	}
	collector := &otlpCollector{}
	srv := httptest.NewServer(collector)
	defer srv.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestTraces$", "-test.count=1", "-test.v")
	cmd.Env = append(withoutOTEL(os.Environ()), tracedChildEnv+"=1", "OTEL_EXPORTER_OTLP_ENDPOINT="+srv.URL)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestTraces")) {
		t.Fatalf("traced requests: %v\n%s", err, out)
	}

	service, version := collector.resource("service.name"), collector.resource("service.version")
	if service != tracing.ServiceName || version != "test" {
		t.Errorf("resource service.name=%q service.version=%q, want %q and test", service, version, tracing.ServiceName)
	}
	spans := collector.all()
	for _, tc := range []struct {
		uid, root string
		traced    bool     // sent with traceparent
		children  []string // sorted
		attrs     map[string]string
		failed    bool // status Error
	}{
		{uid: "u-allowed", root: "admission /validate", traced: true, children: []string{"decode", "evaluate", "log"},
			attrs: map[string]string{"k8s.namespace.name": "shop", "microguard.request.kind": "Pod", "microguard.request.operation": "CREATE",
				"microguard.request.name": "menu", "microguard.decision": "allowed", "microguard.violations": "0"}},
		{uid: "u-denied", root: "admission /validate", traced: true, children: []string{"decode", "evaluate", "log"},
			attrs: map[string]string{"microguard.request.kind": "Deployment", "microguard.request.name": "web", "microguard.decision": "denied"}},
		{uid: "u-mutated", root: "admission /mutate", traced: true, children: []string{"decode", "log", "mutate"},
			attrs: map[string]string{"microguard.request.kind": "Pod", "microguard.decision": "allowed"}},
		{uid: "u-malformed", root: "admission /validate", traced: true, children: []string{"decode", "log"}, failed: true,
			attrs: map[string]string{"microguard.decision": "error"}},
		{uid: "u-untraced", root: "admission /validate", children: []string{"decode", "evaluate", "log"},
			attrs: map[string]string{"microguard.decision": "allowed"}},
	} {
		t.Run(tc.uid, func(t *testing.T) {
			i := slices.IndexFunc(spans, func(s *tracepb.Span) bool { return attr(s, "microguard.request.uid") == tc.uid })
			if i < 0 {
				t.Fatalf("no span with microguard.request.uid=%s among %d spans", tc.uid, len(spans))
			}
			root := spans[i]
			if root.Name != tc.root || root.Kind != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("root span %q of kind %v, want %q of kind server", root.Name, root.Kind, tc.root)
			}
			traceID, parent := hex.EncodeToString(root.TraceId), hex.EncodeToString(root.ParentSpanId)
			switch {
			case tc.traced && (traceID != apiServerTraceID || parent != apiServerSpanID):
				t.Errorf("root span in trace %s under %q, want trace %s under the API server's span %s", traceID, parent, apiServerTraceID, apiServerSpanID)
			case !tc.traced && (traceID == apiServerTraceID || parent != ""):
				t.Errorf("untraced request's root span in trace %s under %q, want a trace of its own", traceID, parent)
			}
			for k, want := range tc.attrs {
				if got := attr(root, k); got != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			if tc.uid == "u-denied" && (attr(root, "microguard.violations") == "" || attr(root, "microguard.violations") == "0") {
				t.Errorf("denial with microguard.violations=%q", attr(root, "microguard.violations"))
			}
			if failed := root.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR; failed != tc.failed {
				t.Errorf("root span status %v, want error %v", root.Status, tc.failed)
			}
			var children []string
			for _, s := range spans {
				if bytes.Equal(s.ParentSpanId, root.SpanId) {
					if !bytes.Equal(s.TraceId, root.TraceId) {
						t.Errorf("span %q in trace %x, its parent in %x", s.Name, s.TraceId, root.TraceId)
					}
					if s.Name == "decode" && tc.failed && s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
						t.Errorf("decode span of a malformed request has status %v", s.Status)
					}
					children = append(children, s.Name)
				}
			}
			slices.Sort(children)
			if !slices.Equal(children, tc.children) {
				t.Errorf("children %v, want %v", children, tc.children)
			}
		})
	}
}

// tracedRequests makes TestTraces' requests, with tracing on, in the
// process TestTraces starts for them.
func tracedRequests(t *testing.T) {
	tp, prop := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	defer func() {
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(prop)
	}()
	ctx := context.Background()
	shutdown, err := tracing.Setup(ctx, logr.Discard(), "test")
	if err != nil {
		t.Fatal(err)
	}
	l, err := decisionlog.Open(ctx, filepath.Join(t.TempDir(), "log"), decisionlog.Options{Replica: "test"})
	if err != nil {
		t.Fatal(err)
	}
	validate, mutate := recordingHandlers(t, &Recorder{Log: l, OnFailure: "deny"})

	malformed := &admissionv1.AdmissionRequest{
		UID: "u-malformed", Operation: admissionv1.Create, Namespace: "shop", Name: "bad", UserInfo: userInfo,
		Kind:     metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Object:   runtime.RawExtension{Raw: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad"},"spec":{"containers":"not a list"}}`)},
	}
	for _, r := range []struct {
		h       http.Handler
		path    string
		body    []byte
		traced  bool
		allowed bool
	}{
		{validate, ValidatePath, admissionReview(t, "u-allowed", admissionv1.Create, "shop", pod("menu", map[string]string{"owner": "ana"})), true, true},
		{validate, ValidatePath, admissionReview(t, "u-denied", admissionv1.Create, "shop", deployment("web", nil, nil)), true, false},
		{mutate, MutatePath, admissionReview(t, "u-mutated", admissionv1.Create, "shop", pod("web", map[string]string{"owner": "ana"})), true, true},
		{validate, ValidatePath, marshalReview(t, malformed), true, false},
		{validate, ValidatePath, admissionReview(t, "u-untraced", admissionv1.Create, "shop", pod("menu", map[string]string{"owner": "ana"})), false, true},
	} {
		req := httptest.NewRequest(http.MethodPost, r.path, bytes.NewReader(r.body))
		req.Header.Set("Content-Type", "application/json")
		if r.traced {
			req.Header.Set("traceparent", traceparent)
		}
		w := httptest.NewRecorder()
		r.h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"allowed":true`) != r.allowed {
			t.Errorf("%s: HTTP %d %s, want allowed %v", r.path, w.Code, w.Body, r.allowed)
		}
	}
	// Shutdown exports the spans still in the batch.
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// withoutOTEL drops the OTEL_* variables of env.
func withoutOTEL(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "OTEL_") })
}

// otlpCollector is an OTLP/HTTP trace receiver: it decodes each export
// request and keeps its spans.
type otlpCollector struct {
	mu  sync.Mutex
	got []*tracepb.ResourceSpans
}

func (c *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.Error(w, "not an OTLP trace export", http.StatusNotFound)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.got = append(c.got, req.ResourceSpans...)
	c.mu.Unlock()
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// all is every span received.
func (c *otlpCollector) all() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, rs := range c.got {
		for _, ss := range rs.ScopeSpans {
			out = append(out, ss.Spans...)
		}
	}
	return out
}

// resource is the value of a resource attribute of the first export.
func (c *otlpCollector) resource(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) == 0 {
		return ""
	}
	return value(c.got[0].GetResource().GetAttributes(), key)
}

// attr is the value of a span's attribute, "" when it has none.
func attr(s *tracepb.Span, key string) string {
	return value(s.Attributes, key)
}

func value(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key != key {
			continue
		}
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return strconv.FormatInt(v.IntValue, 10)
		}
	}
	return ""
}
