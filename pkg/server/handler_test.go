package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// post sends body to path with contentType and returns the status and body.
func post(t *testing.T, srv *httptest.Server, method, path, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

// decodeResponse decodes a webhook reply and insists on a response.
func decodeResponse(t *testing.T, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &ar); err != nil {
		t.Fatalf("reply %.200q is not an AdmissionReview: %v", body, err)
	}
	if ar.Response == nil {
		t.Fatalf("reply %.200q has no response", body)
	}
	return ar.Response
}

func requestReview(t *testing.T, req map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func podRequest(uid string, object any) map[string]any {
	return map[string]any{
		"uid":       uid,
		"kind":      map[string]any{"group": "", "version": "v1", "kind": "Pod"},
		"resource":  map[string]any{"group": "", "version": "v1", "resource": "pods"},
		"operation": "CREATE",
		"namespace": "shop",
		"userInfo":  map[string]any{"username": "jane@example.com"},
		"object":    object,
	}
}

// TestHostileInput posts malformed, oversized and wrongly framed reviews to
// both webhooks. None may fail the server (5xx), every 200 reply must be an
// AdmissionReview with a response, and /validate must never admit.
func TestHostileInput(t *testing.T) {
	srv := httptest.NewServer(mux(t))
	defer srv.Close()

	ownedPod := pod("owned", map[string]string{"owner": "shop-team"})
	// A review that would be admitted, used where the framing is what is wrong.
	admissible := admissionReview(t, "uid-admissible", admissionv1.Create, "shop", ownedPod)

	// 12 MiB: an otherwise admissible Pod with a huge annotation.
	bigPod := ownedPod.DeepCopy()
	bigPod.Annotations = map[string]string{"blob": strings.Repeat("a", 12<<20)}
	big := admissionReview(t, "uid-big", admissionv1.Create, "shop", bigPod)

	const depth = 200000
	var nested bytes.Buffer
	nested.WriteString(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"uid-deep","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"shop","object":`)
	nested.WriteString(strings.Repeat("[", depth))
	nested.WriteString(strings.Repeat("]", depth))
	nested.WriteString(`}}`)

	for _, tc := range []struct {
		name        string
		method      string
		contentType string
		body        []byte
		// status is the HTTP status; 200 replies carry an AdmissionReview.
		status int
		// code is the Result.Code /validate answers with (0: not checked).
		code int32
		// uid is the request uid the response must echo ("" when none).
		uid string
	}{
		{name: "empty body", body: nil, status: 200, code: 400},
		{name: "non-JSON body", body: []byte("this is not json"), status: 200, code: 400},
		{name: "truncated JSON", body: admissible[:len(admissible)/2], status: 200, code: 400},
		{name: "empty object", body: []byte(`{}`), status: 200, code: 400},
		{name: "JSON null", body: []byte(`null`), status: 200, code: 400},
		{name: "review without request", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), status: 200, code: 400},
		{name: "review with null request", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`), status: 200, code: 400},
		{name: "request without object", body: requestReview(t, podRequest("uid-noobj", nil)), status: 200, code: 400, uid: "uid-noobj"},
		{name: "object is a JSON string", body: requestReview(t, podRequest("uid-string", "a pod, honest")), status: 200, code: 400, uid: "uid-string"},
		{name: "object is an array", body: requestReview(t, podRequest("uid-array", []any{map[string]any{"kind": "Pod"}})), status: 200, code: 400, uid: "uid-array"},
		{name: "object is a number", body: requestReview(t, podRequest("uid-number", 42)), status: 200, code: 400, uid: "uid-number"},
		{name: "Pod spec is a string", body: requestReview(t, podRequest("uid-spec", map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": "p", "labels": map[string]any{"owner": "shop-team"}},
			"spec":     "containers: [app]",
		})), status: 200, code: 400, uid: "uid-spec"},
		{name: "owner label is a number", body: requestReview(t, podRequest("uid-label", map[string]any{
			"metadata": map[string]any{"name": "p", "labels": map[string]any{"owner": 7}},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "a", "image": "b"}}},
		})), status: 200, code: 400, uid: "uid-label"},
		{name: "12 MiB body", body: big, status: 200, code: http.StatusRequestEntityTooLarge},
		{name: "200000 nested arrays", body: nested.Bytes(), status: 200, code: 400},
		{name: "text/plain", contentType: "text/plain", body: admissible, status: 200, code: 400},
		{name: "no Content-Type", contentType: "-", body: admissible, status: 200, code: 400},
		{name: "GET", method: http.MethodGet, body: nil, status: http.StatusMethodNotAllowed},
		{name: "GET with a review", method: http.MethodGet, body: admissible, status: http.StatusMethodNotAllowed},
		{name: "PUT", method: http.MethodPut, body: admissible, status: http.StatusMethodNotAllowed},
	} {
		for _, path := range []string{ValidatePath, MutatePath} {
			t.Run(strings.TrimPrefix(path, "/")+"/"+tc.name, func(t *testing.T) {
				method := tc.method
				if method == "" {
					method = http.MethodPost
				}
				ct := tc.contentType
				switch ct {
				case "":
					ct = "application/json"
				case "-":
					ct = ""
				}
				status, header, body := post(t, srv, method, path, ct, tc.body)
				if status >= 500 {
					t.Fatalf("HTTP %d: %.300s", status, body)
				}
				if status != tc.status {
					t.Fatalf("HTTP %d, want %d: %.300s", status, tc.status, body)
				}
				if status == http.StatusMethodNotAllowed {
					if allow := header.Get("Allow"); allow != http.MethodPost {
						t.Errorf("Allow = %q, want POST", allow)
					}
					return
				}
				resp := decodeResponse(t, body)
				if string(resp.UID) != tc.uid {
					t.Errorf("response uid = %q, want %q", resp.UID, tc.uid)
				}
				// Both webhooks refuse what they cannot evaluate.
				if resp.Allowed {
					t.Fatalf("bad input admitted: %+v", resp)
				}
				if resp.Result == nil || resp.Result.Code != tc.code {
					t.Errorf("result = %+v, want code %d", resp.Result, tc.code)
				}
			})
		}
	}
}

func TestValidateReviews(t *testing.T) {
	srv := httptest.NewServer(mux(t))
	defer srv.Close()
	owned := map[string]string{"owner": "shop-team", "app": "web"}

	type want struct {
		allowed  bool
		code     int32
		contains []string
		absent   []string
	}
	for _, tc := range []struct {
		name string
		body []byte
		uid  string
		want want
	}{
		{
			name: "Deployment without owner labels",
			uid:  "uid-deny",
			body: admissionReview(t, "uid-deny", admissionv1.Create, "shop", deployment("web", map[string]string{"app": "web"}, map[string]string{"app": "web"})),
			want: want{allowed: false, code: 403, contains: []string{
				`[owner-labels/missing-label] Deployment "web" has no "owner" label (field: metadata.labels.owner). Fix: add owner:`,
				"(field: spec.template.metadata.labels.owner). Fix: add owner:",
			}},
		},
		{
			name: "Deployment with owner labels on object and template",
			uid:  "uid-allow",
			body: admissionReview(t, "uid-allow", admissionv1.Create, "shop", deployment("web", owned, owned)),
			want: want{allowed: true, code: 200},
		},
		{
			name: "Deployment with an owner label on the object only",
			uid:  "uid-template",
			body: admissionReview(t, "uid-template", admissionv1.Create, "shop", deployment("web", owned, map[string]string{"app": "web"})),
			want: want{allowed: false, code: 403,
				contains: []string{"(field: spec.template.metadata.labels.owner). Fix:"},
				absent:   []string{"(field: metadata.labels.owner)"}},
		},
		{
			name: "Deployment with an empty owner label",
			uid:  "uid-empty",
			body: admissionReview(t, "uid-empty", admissionv1.Create, "shop", deployment("web", map[string]string{"owner": ""}, owned)),
			want: want{allowed: false, code: 403, contains: []string{"(field: metadata.labels.owner). Fix:"}},
		},
		{
			name: "UPDATE of a Deployment without owner labels",
			uid:  "uid-update",
			body: admissionReview(t, "uid-update", admissionv1.Update, "shop", deployment("web", nil, nil)),
			want: want{allowed: false, code: 403, contains: []string{"(field: metadata.labels.owner). Fix:"}},
		},
		{
			name: "Pod without owner label",
			uid:  "uid-pod",
			body: admissionReview(t, "uid-pod", admissionv1.Create, "shop", pod("p", nil)),
			want: want{allowed: false, code: 403, contains: []string{`Pod "p" has no "owner" label (field: metadata.labels.owner). Fix:`}},
		},
		{
			name: "Pod with owner label",
			uid:  "uid-pod-ok",
			body: admissionReview(t, "uid-pod-ok", admissionv1.Create, "shop", pod("p", owned)),
			want: want{allowed: true, code: 200},
		},
		{
			name: "DELETE of a Deployment without owner labels",
			uid:  "uid-delete",
			body: admissionReview(t, "uid-delete", admissionv1.Delete, "shop", deployment("web", nil, nil)),
			want: want{allowed: true, code: 200},
		},
		{
			name: "Deployment without owner labels in kube-system",
			uid:  "uid-kube-system",
			body: admissionReview(t, "uid-kube-system", admissionv1.Create, "kube-system", deployment("web", nil, nil)),
			want: want{allowed: true, code: 200, contains: []string{"exempt: namespace kube-system"}},
		},
		{
			name: "Pod without owner label in kube-node-lease",
			uid:  "uid-lease",
			body: admissionReview(t, "uid-lease", admissionv1.Create, "kube-node-lease", pod("p", nil)),
			want: want{allowed: true, code: 200, contains: []string{"exempt: namespace kube-node-lease"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := post(t, srv, http.MethodPost, ValidatePath, "application/json", tc.body)
			if status != http.StatusOK {
				t.Fatalf("HTTP %d: %s", status, body)
			}
			resp := decodeResponse(t, body)
			if string(resp.UID) != tc.uid {
				t.Errorf("response uid = %q, want %q", resp.UID, tc.uid)
			}
			if resp.Allowed != tc.want.allowed {
				t.Fatalf("allowed = %v, want %v (result %+v)", resp.Allowed, tc.want.allowed, resp.Result)
			}
			if resp.Result == nil || resp.Result.Code != tc.want.code {
				t.Fatalf("result = %+v, want code %d", resp.Result, tc.want.code)
			}
			if !tc.want.allowed && resp.Result.Reason != metav1.StatusReasonForbidden {
				t.Errorf("reason = %q, want Forbidden", resp.Result.Reason)
			}
			for _, part := range tc.want.contains {
				if !strings.Contains(resp.Result.Message, part) {
					t.Errorf("message %q does not contain %q", resp.Result.Message, part)
				}
			}
			for _, part := range tc.want.absent {
				if strings.Contains(resp.Result.Message, part) {
					t.Errorf("message %q contains %q", resp.Result.Message, part)
				}
			}
			if len(resp.Patch) != 0 {
				t.Errorf("validation response has a patch: %s", resp.Patch)
			}
		})
	}
}

// TestValidateEphemeralContainers: adding an ephemeral container cannot
// change labels, so the owner-labels policy does not apply to the subresource.
func TestValidateEphemeralContainers(t *testing.T) {
	srv := httptest.NewServer(mux(t))
	defer srv.Close()
	p := pod("p", nil)
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{
		UID:         "uid-ephemeral",
		Kind:        metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:    metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		SubResource: "ephemeralcontainers",
		Operation:   admissionv1.Update,
		Namespace:   "shop",
		Name:        "p",
		Object:      runtime.RawExtension{Raw: raw},
		OldObject:   runtime.RawExtension{Raw: raw},
	}
	status, _, body := post(t, srv, http.MethodPost, ValidatePath, "application/json", marshalReview(t, req))
	if status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", status, body)
	}
	if resp := decodeResponse(t, body); !resp.Allowed || resp.UID != "uid-ephemeral" {
		t.Errorf("response = %+v, want allowed", resp)
	}

	// The same pod without the subresource is denied.
	req.SubResource = ""
	_, _, body = post(t, srv, http.MethodPost, ValidatePath, "application/json", marshalReview(t, req))
	if resp := decodeResponse(t, body); resp.Allowed {
		t.Errorf("pod without owner label admitted on UPDATE: %+v", resp)
	}
}

// TestMutateReviews: the mutating webhook never denies a well-formed
// request (the policy is enforced by /validate), and with no mutator
// enabled it patches nothing.
func TestMutateReviews(t *testing.T) {
	srv := httptest.NewServer(mux(t))
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		uid     string
		body    []byte
		patched bool // default-resources fills a pod's requests and limits
	}{
		{"Pod without owner label", "m-1", admissionReview(t, "m-1", admissionv1.Create, "shop", pod("p", nil)), true},
		{"Pod with owner label", "m-2", admissionReview(t, "m-2", admissionv1.Create, "shop", pod("p", map[string]string{"owner": "x"})), true},
		{"Deployment without owner labels", "m-3", admissionReview(t, "m-3", admissionv1.Create, "shop", deployment("web", nil, nil)), false},
		{"DELETE", "m-4", admissionReview(t, "m-4", admissionv1.Delete, "shop", pod("p", nil)), false},
		{"kube-system", "m-5", admissionReview(t, "m-5", admissionv1.Create, "kube-system", pod("p", nil)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := post(t, srv, http.MethodPost, MutatePath, "application/json", tc.body)
			if status != http.StatusOK {
				t.Fatalf("HTTP %d: %s", status, body)
			}
			resp := decodeResponse(t, body)
			if !resp.Allowed || string(resp.UID) != tc.uid {
				t.Errorf("response = %+v, want allowed with uid %s", resp, tc.uid)
			}
			if tc.patched != (len(resp.Patch) > 0) {
				t.Errorf("patch %s, want patched=%v", resp.Patch, tc.patched)
			}
			if tc.patched && !strings.Contains(string(resp.Patch), `"path":"/spec/containers/0/resources`) {
				t.Errorf("patch %s does not add resources", resp.Patch)
			}
		})
	}
}

// TestHandlersEchoReviewVersion: the reply is a typed AdmissionReview of the
// version that was sent.
func TestHandlersEchoReviewVersion(t *testing.T) {
	srv := httptest.NewServer(mux(t))
	defer srv.Close()
	body := admissionReview(t, "uid-v", admissionv1.Create, "shop", pod("p", nil))
	for _, path := range []string{ValidatePath, MutatePath} {
		_, _, out := post(t, srv, http.MethodPost, path, "application/json", body)
		var ar admissionv1.AdmissionReview
		if err := json.Unmarshal(out, &ar); err != nil {
			t.Fatal(err)
		}
		if ar.APIVersion != "admission.k8s.io/v1" || ar.Kind != "AdmissionReview" {
			t.Errorf("%s replied with %s %s", path, ar.APIVersion, ar.Kind)
		}
	}
}

// TestValidateDeepObject: an object nested as deep as the review decoder
// allows is still decided by the policy, not admitted or crashed on.
func TestValidateDeepObject(t *testing.T) {
	srv := httptest.NewServer(mux(t))
	defer srv.Close()
	const depth = 9000
	deep := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	for _, tc := range []struct {
		name    string
		labels  string
		allowed bool
		code    int32
	}{
		{"with owner label", `{"owner":"shop-team"}`, true, 200},
		{"without owner label", `{"app":"web"}`, false, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"uid-deep","kind":{"group":"","version":"v1","kind":"Pod"},` +
				`"operation":"CREATE","namespace":"shop","object":{"metadata":{"name":"p","labels":` + tc.labels + `},` +
				`"spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},` +
				`"containers":[{"name":"a","image":"b","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}],"x-unknown":` + deep + `}}}}`
			status, _, out := post(t, srv, http.MethodPost, ValidatePath, "application/json", []byte(body))
			if status != http.StatusOK {
				t.Fatalf("HTTP %d: %.300s", status, out)
			}
			resp := decodeResponse(t, out)
			if resp.Allowed != tc.allowed || resp.Result == nil || resp.Result.Code != tc.code {
				t.Errorf("response = %+v (result %+v), want allowed %v, code %d", resp, resp.Result, tc.allowed, tc.code)
			}
		})
	}
}

func TestCallerDeadlineBoundsTheRequest(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  time.Duration // 0: no deadline
	}{
		{"?timeout=5s", 4500 * time.Millisecond},
		{"?timeout=1s", 900 * time.Millisecond},
		{"", 0},
		{"?timeout=soon", 0},
		{"?timeout=-3s", 0},
	} {
		var got time.Duration
		h := withCallerDeadline(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			if dl, ok := r.Context().Deadline(); ok {
				got = time.Until(dl)
			}
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/validate"+tc.query, nil))
		if tc.want == 0 && got != 0 {
			t.Errorf("%q: deadline in %s, want none", tc.query, got)
		}
		if tc.want != 0 && (got > tc.want || got < tc.want-200*time.Millisecond) {
			t.Errorf("%q: deadline in %s, want about %s", tc.query, got, tc.want)
		}
	}
}

// TestAdmissionWebhook holds the webhook wrapper that New and the tests
// share to what it promises: a handler that panics gets the request
// refused with an error (fail closed, the server still up), and each
// request logs through the base logger, not controller-runtime's default
// constructor.
func TestAdmissionWebhook(t *testing.T) {
	panicking := admission.HandlerFunc(func(context.Context, admission.Request) admission.Response { panic("boom") })
	srv := httptest.NewServer(webhookHandler(panicking))
	defer srv.Close()
	for i := range 2 {
		code, _, body := post(t, srv, http.MethodPost, ValidatePath, "application/json", admissionReview(t, "uid-panic", admissionv1.Create, "shop", pod("menu", nil)))
		if code != http.StatusOK {
			t.Fatalf("request %d: HTTP %d, want 200 with a refusal: %s", i, code, body)
		}
		r := decodeResponse(t, body)
		if r.Allowed || r.UID != "uid-panic" || r.Result == nil || r.Result.Code != http.StatusInternalServerError || !strings.Contains(r.Result.Message, "boom") {
			t.Fatalf("request %d: a panicking handler's answer is %+v (result %+v), want a refusal with code 500 naming the panic", i, r, r.Result)
		}
	}

	base := funcr.New(func(string, string) {}, funcr.Options{})
	got := admissionWebhook(panicking).LogConstructor
	if got == nil {
		t.Fatal("no LogConstructor: controller-runtime's default adds the request's values to a logger twice per request")
	}
	if l := got(base, &admission.Request{}); l.GetSink() != base.GetSink() {
		t.Errorf("the request's logger is %#v, want the base logger", l.GetSink())
	}
}
