package admission_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/microguard/microguard/pkg/admission"
)

// podJSON is a pod spec with containers named c0... and extra spec fields.
func specJSON(containers, initContainers int, extra string) string {
	var cs []string
	for i := range containers {
		cs = append(cs, fmt.Sprintf(`{"name":"c%d","image":"x"}`, i))
	}
	var ics []string
	for i := range initContainers {
		ics = append(ics, fmt.Sprintf(`{"name":"i%d","image":"x"}`, i))
	}
	s := `{"containers":[` + strings.Join(cs, ",") + `],"initContainers":[` + strings.Join(ics, ",") + `]`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// volumes is a "volumes" field of n emptyDir volumes.
func volumes(n int) string {
	vs := make([]string, n)
	for i := range vs {
		vs[i] = fmt.Sprintf(`{"name":"v%d","emptyDir":{}}`, i)
	}
	return `"volumes":[` + strings.Join(vs, ",") + `]`
}

func TestDecodeRefusesPodsTooLargeToEvaluate(t *testing.T) {
	pod := corev1.SchemeGroupVersion.WithKind("Pod")
	deploy := appsv1.SchemeGroupVersion.WithKind("Deployment")
	asPod := func(spec string) []byte { return []byte(`{"metadata":{"name":"p"},"spec":` + spec + `}`) }
	asDeployment := func(spec string) []byte {
		return []byte(`{"metadata":{"name":"d"},"spec":{"selector":{},"template":{"spec":` + spec + `}}}`)
	}
	// Each container is one list item; the volumes fill the rest.
	fill := func(containers, items int) string {
		return specJSON(containers, 0, volumes(items-containers))
	}
	for _, tc := range []struct {
		name string
		req  *admissionv1.AdmissionRequest
		want string // "" for decoded
	}{
		{"pod at the container bound", request(pod, admissionv1.Create, asPod(specJSON(admission.MaxContainers-10, 10, ""))), ""},
		{"pod over the container bound", request(pod, admissionv1.Create, asPod(specJSON(admission.MaxContainers-9, 10, ""))),
			fmt.Sprintf("spec has %d containers; microguard evaluates at most %d", admission.MaxContainers+1, admission.MaxContainers)},
		{"deployment over the container bound", request(deploy, admissionv1.Create, asDeployment(specJSON(admission.MaxContainers+1, 0, ""))),
			"spec.template.spec has 501 containers"},
		{"pod at the list item bound", request(pod, admissionv1.Create, asPod(fill(3, admission.MaxListItems))), ""},
		{"pod over the list item bound", request(pod, admissionv1.Create, asPod(fill(3, admission.MaxListItems+1))),
			fmt.Sprintf("spec has more than %d list items", admission.MaxListItems)},
		{"deployment over the list item bound", request(deploy, admissionv1.Update, asDeployment(fill(1, admission.MaxListItems+1))),
			"spec.template.spec has more than"},
		// Items nested in containers count too.
		{"env over the list item bound", request(pod, admissionv1.Create, asPod(`{"containers":[{"name":"a","env":[`+
			strings.TrimSuffix(strings.Repeat(`{"name":"E","value":"v"},`, admission.MaxListItems), ",")+`]}]}`)),
			"list items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := admission.Decode(tc.req)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if len(in.Pods) != 1 {
					t.Fatalf("%d pods, want 1", len(in.Pods))
				}
				return
			}
			if err == nil || !admission.IsBadInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error %v; want bad input with %q", err, tc.want)
			}
		})
	}
	// The bounds are on the pod: a large object of another kind is decoded.
	cm := corev1.SchemeGroupVersion.WithKind("ConfigMap")
	big, _ := json.Marshal(map[string]any{"metadata": map[string]any{"name": "c"}, "items": make([]int, admission.MaxListItems*2)})
	if _, err := admission.Decode(request(cm, admissionv1.Create, big)); err != nil {
		t.Fatalf("ConfigMap: %v", err)
	}
}

func TestDecodeRefusesObjectsWithTooManyValues(t *testing.T) {
	pod := corev1.SchemeGroupVersion.WithKind("Pod")
	pvc := corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim")
	labels := func(n int) string {
		ls := make([]string, n)
		for i := range ls {
			ls[i] = fmt.Sprintf(`"l%d":"v"`, i)
		}
		return `{` + strings.Join(ls, ",") + `}`
	}
	// Commas, brackets and escaped quotes inside strings are text, not values.
	text := strings.Repeat(`,[{\"`, admission.MaxValues)
	small := []byte(`{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"b"}]}}`)
	for _, tc := range []struct {
		name string
		req  *admissionv1.AdmissionRequest
		want string
	}{
		{"pod with as many labels as values allowed", request(pod, admissionv1.Create, []byte(`{"metadata":{"name":"p","labels":`+labels(admission.MaxValues-10)+`},"spec":{}}`)), ""},
		{"pod with more labels", request(pod, admissionv1.Create, []byte(`{"metadata":{"name":"p","labels":`+labels(admission.MaxValues)+`},"spec":{}}`)),
			fmt.Sprintf("decoding Pod: more than %d values", admission.MaxValues)},
		{"claim with more labels", request(pvc, admissionv1.Create, []byte(`{"metadata":{"name":"c","labels":`+labels(admission.MaxValues)+`}}`)), "more than"},
		{"punctuation inside a string", request(pod, admissionv1.Create, []byte(`{"metadata":{"name":"p","annotations":{"a":"`+text+`"}},"spec":{}}`)), ""},
		{"old object with more labels", func() *admissionv1.AdmissionRequest {
			r := request(pod, admissionv1.Update, small)
			r.OldObject.Raw = []byte(`{"metadata":{"name":"p","labels":` + labels(admission.MaxValues) + `},"spec":{}}`)
			return r
		}(), "decoding old Pod: more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := admission.Decode(tc.req)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			if err == nil || !admission.IsBadInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error %v; want bad input with %q", err, tc.want)
			}
		})
	}
}
