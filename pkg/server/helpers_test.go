package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/review"
	"github.com/microguard/microguard/policies"
)

// realReviewer is a reviewer on the embedded bundle with the default config
// and no namespace labels, prepared once per test binary.
var realReviewer = sync.OnceValues(func() (*review.Reviewer, error) {
	setup, err := review.Prepare(context.Background(), policies.FS, "")
	if err != nil {
		return nil, err
	}
	// The reviews in these tests come straight to validation, unmutated.
	setup.Config.Policies[review.MutationsApplied] = config.Policy{Action: config.Off}
	return setup.Reviewer(nil, logr.Discard()), nil
})

func reviewer(t testing.TB) *review.Reviewer {
	t.Helper()
	rv, err := realReviewer()
	if err != nil {
		t.Fatalf("preparing the reviewer: %v", err)
	}
	return rv
}

// handlers builds the two webhook handlers exactly as New registers them.
func handlers(t testing.TB) (validate, mutate http.Handler) {
	t.Helper()
	rv := reviewer(t)
	validate = webhookHandler(validator{rv: newReviewers(rv), log: logr.Discard()})
	mutate = webhookHandler(mutator{rv: newReviewers(rv), log: logr.Discard()})
	return validate, mutate
}

// mux serves the handlers at their paths.
func mux(t testing.TB) *http.ServeMux {
	t.Helper()
	validate, mutate := handlers(t)
	m := http.NewServeMux()
	m.Handle(ValidatePath, validate)
	m.Handle(MutatePath, mutate)
	return m
}

func deployment(name string, objectLabels, templateLabels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: objectLabels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: templateLabels},
				Spec:       restrictedSpec(name),
			},
		},
	}
}

func pod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: labels},
		Spec:       restrictedSpec(name),
	}
}

// admissionReview wraps obj in a v1 AdmissionReview as the API server sends
// it.
func admissionReview(t testing.TB, uid types.UID, op admissionv1.Operation, namespace string, obj runtime.Object) []byte {
	t.Helper()
	gvk := obj.GetObjectKind().GroupVersionKind()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	name := ""
	if m, ok := obj.(metav1.Object); ok {
		name = m.GetName()
	}
	req := &admissionv1.AdmissionRequest{
		UID:       uid,
		Kind:      metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Resource:  metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: resourceOf(gvk.Kind)},
		Operation: op,
		Namespace: namespace,
		Name:      name,
		UserInfo:  userInfo,
	}
	if op == admissionv1.Delete {
		req.OldObject = runtime.RawExtension{Raw: raw}
	} else {
		req.Object = runtime.RawExtension{Raw: raw}
	}
	return marshalReview(t, req)
}

func marshalReview(t testing.TB, req *admissionv1.AdmissionRequest) []byte {
	t.Helper()
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  req,
	}
	body, err := json.Marshal(ar)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// userInfo is the (not exempt) user of the test requests.
var userInfo = authenticationv1.UserInfo{Username: "jane@example.com", Groups: []string{"developers", "system:authenticated"}}

func resourceOf(kind string) string {
	switch kind {
	case "Pod":
		return "pods"
	case "Deployment":
		return "deployments"
	}
	return ""
}

// restrictedSpec is a pod spec the restricted Pod Security Standard admits.
func restrictedSpec(name string) corev1.PodSpec {
	yes, no := true, false
	return corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/" + name + ":1",
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		}},
	}
}
