package review_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/go-logr/logr"
	jsonpatchv2 "gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	cfgpkg "github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/review"
	"github.com/microguard/microguard/policies"
)

type namespaces map[string]map[string]string

func (n namespaces) Labels(_ context.Context, name string) (map[string]string, bool, error) {
	if name == "broken" {
		return nil, false, errors.New("cache unavailable")
	}
	l, ok := n[name]
	return l, ok, nil
}

func reviewer(tb testing.TB, config string) *review.Reviewer {
	tb.Helper()
	path := ""
	if config != "" {
		path = tb.TempDir() + "/config.yaml"
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	setup, err := review.Prepare(context.Background(), policies.FS, path)
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.Contains(config, review.MutationsApplied) {
		// These requests come straight to validation, unmutated.
		setup.Config.Policies[review.MutationsApplied] = cfgpkg.Policy{Action: cfgpkg.Off}
	}
	return setup.Reviewer(namespaces{"shop": {"owner": "ana", "team": "food"}, "bare": {}}, logr.Discard())
}

// podObject is a pod the restricted Pod Security Standard admits.
func podObject(labels map[string]string) *corev1.Pod {
	yes := true
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: labels},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.example/app:1",
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: new(bool), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
}

func deploymentObject(labels, tpl map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: tpl}, Spec: podObject(nil).Spec},
		},
	}
}

func request(tb testing.TB, op admissionv1.Operation, ns string, obj runtime.Object, kind metav1.GroupVersionKind) *admissionv1.AdmissionRequest {
	raw, err := json.Marshal(obj)
	if err != nil {
		tb.Fatal(err)
	}
	return &admissionv1.AdmissionRequest{
		UID: "1", Kind: kind, Operation: op, Namespace: ns, Name: "x",
		Object:   runtime.RawExtension{Raw: raw},
		UserInfo: authenticationv1.UserInfo{Username: "dev", Groups: []string{"devs"}},
	}
}

var (
	podKind        = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	deploymentKind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
)

func TestValidate(t *testing.T) {
	owner := map[string]string{"owner": "ana"}
	cases := []struct {
		name    string
		config  string
		req     func(t *testing.T) *admissionv1.AdmissionRequest
		allowed bool
		exempt  string
		fields  []string
		errText string
	}{
		{"compliant deployment", "", func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, admissionv1.Create, "shop", deploymentObject(owner, owner), deploymentKind)
		}, true, "", nil, ""},
		{"deployment without owner", "", func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, admissionv1.Create, "shop", deploymentObject(nil, nil), deploymentKind)
		}, false, "", []string{"metadata.labels.owner", "spec.template.metadata.labels.owner"}, ""},
		{"inherited from namespace when configured", "policies:\n  owner-labels:\n    inheritFromNamespace: true\n", func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, admissionv1.Create, "shop", deploymentObject(nil, nil), deploymentKind)
		}, true, "", nil, ""},
		{"not inherited from a namespace without the label", "policies:\n  owner-labels:\n    inheritFromNamespace: true\n", func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, admissionv1.Create, "bare", deploymentObject(nil, nil), deploymentKind)
		}, false, "", []string{"metadata.labels.owner", "spec.template.metadata.labels.owner"}, ""},
		{"warn admits", "policies:\n  owner-labels:\n    action: warn\n", func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, admissionv1.Create, "shop", podObject(nil), podKind)
		}, true, "", []string{"metadata.labels.owner"}, ""},
		{"dry-run is decided like a real request", "", func(t *testing.T) *admissionv1.AdmissionRequest {
			r := request(t, admissionv1.Create, "shop", podObject(nil), podKind)
			dry := true
			r.DryRun = &dry
			return r
		}, false, "", []string{"metadata.labels.owner"}, ""},
		{"DELETE is untouched", "", func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, admissionv1.Delete, "shop", podObject(nil), podKind)
		}, true, "operation DELETE", nil, ""},
		{"exempt namespace", "", func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, admissionv1.Create, "kube-system", podObject(nil), podKind)
		}, true, "namespace kube-system", nil, ""},
		{"exempt group", "exemptions:\n  groups: [devs]\n", func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, admissionv1.Create, "shop", podObject(nil), podKind)
		}, true, "group devs", nil, ""},
		{"namespace lookup failure refuses", "", func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, admissionv1.Create, "broken", podObject(owner), podKind)
		}, false, "", nil, "cache unavailable"},
		{"undecodable object refuses", "", func(t *testing.T) *admissionv1.AdmissionRequest {
			r := request(t, admissionv1.Create, "shop", podObject(owner), podKind)
			r.Object.Raw = []byte(`{"spec": "nope"}`)
			return r
		}, false, "", nil, "wrong type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := reviewer(t, tc.config).Validate(context.Background(), tc.req(t))
			if tc.errText != "" {
				if res.Err == nil || !strings.Contains(res.Err.Error(), tc.errText) || res.Allowed {
					t.Fatalf("got %+v; want a refusal with %q", res, tc.errText)
				}
				return
			}
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.Allowed != tc.allowed || res.Exempt != tc.exempt {
				t.Fatalf("allowed %v exempt %q; want %v %q (%+v)", res.Allowed, res.Exempt, tc.allowed, tc.exempt, res.Violations)
			}
			var fields []string
			for _, v := range res.Violations {
				fields = append(fields, v.Field)
			}
			if strings.Join(fields, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("fields %v, want %v", fields, tc.fields)
			}
		})
	}
}

func TestMutateOnlyPods(t *testing.T) {
	rv := reviewer(t, "")
	res := rv.Mutate(context.Background(), request(t, admissionv1.Create, "shop", podObject(nil), podKind))
	if res.Err != nil || len(res.Patch) == 0 || strings.Join(res.Applied, ",") != "cost-tags,default-resources,opentelemetry" {
		t.Fatalf("pod: %+v", res)
	}
	res = rv.Mutate(context.Background(), request(t, admissionv1.Create, "shop", deploymentObject(nil, nil), deploymentKind))
	if res.Err != nil || len(res.Patch) != 0 || !res.Allowed {
		t.Fatalf("deployment must not be mutated: %+v", res)
	}
	ephemeral := request(t, admissionv1.Update, "shop", podObject(nil), podKind)
	ephemeral.SubResource = "ephemeralcontainers"
	if res := rv.Mutate(context.Background(), ephemeral); len(res.Patch) != 0 {
		t.Fatalf("subresource must not be mutated: %+v", res)
	}
}

// Benchmarks of the hot path: one decision per request, with the full
// policy set and mutation chain.
func benchmarkValidate(b *testing.B, req *admissionv1.AdmissionRequest) {
	rv := reviewer(b, "")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res := rv.Validate(ctx, req); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

func BenchmarkValidatePod(b *testing.B) {
	benchmarkValidate(b, request(b, admissionv1.Create, "shop", podObject(map[string]string{"owner": "ana"}), podKind))
}

func BenchmarkValidateDeployment(b *testing.B) {
	owner := map[string]string{"owner": "ana"}
	benchmarkValidate(b, request(b, admissionv1.Create, "shop", deploymentObject(owner, owner), deploymentKind))
}

func BenchmarkValidateDeniedDeployment(b *testing.B) {
	benchmarkValidate(b, request(b, admissionv1.Create, "shop", deploymentObject(nil, nil), deploymentKind))
}

func BenchmarkMutatePod(b *testing.B) {
	rv := reviewer(b, "")
	req := request(b, admissionv1.Create, "shop", podObject(nil), podKind)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res := rv.Mutate(ctx, req); res.Err != nil || len(res.Patch) == 0 {
			b.Fatal(res)
		}
	}
}

// TestUnmutatedPodIsDenied: a pod that reaches validation without the
// mutations (the mutating webhook failed open) is refused, per missing
// mutation; once mutated it is admitted.
func TestUnmutatedPodIsDenied(t *testing.T) {
	rv := reviewer(t, "policies:\n  mutations-applied:\n    action: deny\n")
	req := request(t, admissionv1.Create, "shop", podObject(map[string]string{"owner": "ana"}), podKind)
	res := rv.Validate(context.Background(), req)
	var rules []string
	for _, v := range res.Violations {
		rules = append(rules, v.Policy+"/"+v.Rule+" "+v.Field)
	}
	want := "mutations-applied/cost-tags metadata.labels.team,mutations-applied/default-resources spec.containers[0].resources.limits,mutations-applied/opentelemetry spec.containers[0].env"
	if res.Allowed || strings.Join(rules, ",") != want {
		t.Fatalf("allowed %v, violations %v; want a denial %s", res.Allowed, rules, want)
	}
	mut := rv.Mutate(context.Background(), req)
	patched := applyOps(t, req.Object.Raw, mut.Patch)
	req.Object.Raw = patched
	if res := rv.Validate(context.Background(), req); !res.Allowed {
		t.Fatalf("mutated pod denied: %+v", res.Violations)
	}
	// UPDATE of a pod created before microguard: not re-verified.
	upd := request(t, admissionv1.Update, "shop", podObject(map[string]string{"owner": "ana"}), podKind)
	if res := rv.Validate(context.Background(), upd); !res.Allowed {
		t.Fatalf("update denied: %+v", res.Violations)
	}
}

// TestMutationLeavesManagedFields: the typed pod the mutators see has no
// managedFields (admission leaves them out), which must not make the patch
// remove or touch the submitted pod's, nor make its mutations look missing.
func TestMutationLeavesManagedFields(t *testing.T) {
	rv := reviewer(t, "policies:\n  mutations-applied:\n    action: deny\n")
	pod := podObject(map[string]string{"owner": "ana"})
	at := metav1.NewTime(time.Date(2026, 11, 30, 2, 32, 1, 0, time.UTC))
	pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &at,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{".":{},"f:owner":{}}}}`)}}}
	req := request(t, admissionv1.Create, "shop", pod, podKind)
	mut := rv.Mutate(context.Background(), req)
	if mut.Err != nil || len(mut.Patch) == 0 {
		t.Fatalf("mutate: %+v", mut)
	}
	for _, op := range mut.Patch {
		if strings.HasPrefix(op.Path, "/metadata/managedFields") || op.Path == "/metadata" {
			t.Errorf("the patch touches managedFields: %+v", op)
		}
	}
	req.Object.Raw = applyOps(t, req.Object.Raw, mut.Patch)
	var got corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &got); err != nil {
		t.Fatal(err)
	}
	gotMF, _ := json.Marshal(got.ManagedFields)
	wantMF, _ := json.Marshal(pod.ManagedFields)
	if string(gotMF) != string(wantMF) {
		t.Errorf("managedFields after the patch: %s, want %s", gotMF, wantMF)
	}
	if res := rv.Validate(context.Background(), req); !res.Allowed {
		t.Fatalf("mutated pod denied: %+v", res.Violations)
	}
}

func applyOps(t *testing.T, raw []byte, ops []jsonpatchv2.Operation) []byte {
	t.Helper()
	data, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := patch.Apply(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
