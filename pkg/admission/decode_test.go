package admission_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/microguard/microguard/pkg/admission"
)

// The object and its pod (template) carry different labels, so that a test
// can tell which metadata a Pod entry points at.
var (
	objectLabels   = map[string]string{"app": "web", "owner": "object-team"}
	templateLabels = map[string]string{"app": "web", "owner": "template-team", "tier": "template"}
)

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/web:1.2.3"}}}
}

func template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: templateLabels}, Spec: podSpec()}
}

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: objectLabels}
}

// podKindCase is one pod kind: its typed object and where its pod is.
type podKindCase struct {
	gvk          schema.GroupVersionKind
	obj          runtime.Object
	metadataPath string
	specPath     string
	// podLabels are the labels of the pod entry's metadata.
	podLabels map[string]string
}

func podKindCases() []podKindCase {
	tpl := template()
	return []podKindCase{
		{
			gvk:          corev1.SchemeGroupVersion.WithKind("Pod"),
			obj:          &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta("web-pod"), Spec: podSpec()},
			metadataPath: "metadata", specPath: "spec", podLabels: objectLabels,
		},
		{
			gvk:          corev1.SchemeGroupVersion.WithKind("ReplicationController"),
			obj:          &corev1.ReplicationController{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ReplicationController"}, ObjectMeta: meta("web-rc"), Spec: corev1.ReplicationControllerSpec{Template: &tpl}},
			metadataPath: "spec.template.metadata", specPath: "spec.template.spec", podLabels: templateLabels,
		},
		{
			gvk:          appsv1.SchemeGroupVersion.WithKind("Deployment"),
			obj:          &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta("web-deploy"), Spec: appsv1.DeploymentSpec{Template: template()}},
			metadataPath: "spec.template.metadata", specPath: "spec.template.spec", podLabels: templateLabels,
		},
		{
			gvk:          appsv1.SchemeGroupVersion.WithKind("StatefulSet"),
			obj:          &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}, ObjectMeta: meta("web-sts"), Spec: appsv1.StatefulSetSpec{Template: template()}},
			metadataPath: "spec.template.metadata", specPath: "spec.template.spec", podLabels: templateLabels,
		},
		{
			gvk:          appsv1.SchemeGroupVersion.WithKind("DaemonSet"),
			obj:          &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}, ObjectMeta: meta("web-ds"), Spec: appsv1.DaemonSetSpec{Template: template()}},
			metadataPath: "spec.template.metadata", specPath: "spec.template.spec", podLabels: templateLabels,
		},
		{
			gvk:          appsv1.SchemeGroupVersion.WithKind("ReplicaSet"),
			obj:          &appsv1.ReplicaSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"}, ObjectMeta: meta("web-rs"), Spec: appsv1.ReplicaSetSpec{Template: template()}},
			metadataPath: "spec.template.metadata", specPath: "spec.template.spec", podLabels: templateLabels,
		},
		{
			gvk:          batchv1.SchemeGroupVersion.WithKind("Job"),
			obj:          &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: meta("web-job"), Spec: batchv1.JobSpec{Template: template()}},
			metadataPath: "spec.template.metadata", specPath: "spec.template.spec", podLabels: templateLabels,
		},
		{
			gvk: batchv1.SchemeGroupVersion.WithKind("CronJob"),
			obj: &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: meta("web-cron"), Spec: batchv1.CronJobSpec{
				Schedule:    "*/5 * * * *",
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template()}},
			}},
			metadataPath: "spec.jobTemplate.spec.template.metadata", specPath: "spec.jobTemplate.spec.template.spec", podLabels: templateLabels,
		},
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func request(gvk schema.GroupVersionKind, op admissionv1.Operation, raw []byte) *admissionv1.AdmissionRequest {
	return &admissionv1.AdmissionRequest{
		UID:       "0b5b4a5e-2f7f-4f55-9b8e-1d7e3c1e6a10",
		Kind:      metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Operation: op,
		Namespace: "shop",
		Object:    runtime.RawExtension{Raw: raw},
	}
}

// typedPodSpec returns the pod spec held by a typed pod kind object.
func typedPodSpec(t *testing.T, obj runtime.Object) corev1.PodSpec {
	t.Helper()
	switch o := obj.(type) {
	case *corev1.Pod:
		return o.Spec
	case *corev1.ReplicationController:
		if o.Spec.Template == nil {
			t.Fatal("typed ReplicationController has no template")
		}
		return o.Spec.Template.Spec
	case *appsv1.Deployment:
		return o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		return o.Spec.Template.Spec
	case *appsv1.ReplicaSet:
		return o.Spec.Template.Spec
	case *batchv1.Job:
		return o.Spec.Template.Spec
	case *batchv1.CronJob:
		return o.Spec.JobTemplate.Spec.Template.Spec
	}
	t.Fatalf("unexpected typed object %T", obj)
	return corev1.PodSpec{}
}

func TestDecodePodKinds(t *testing.T) {
	for _, tc := range podKindCases() {
		t.Run(tc.gvk.Kind, func(t *testing.T) {
			in, err := admission.Decode(request(tc.gvk, admissionv1.Create, mustJSON(t, tc.obj)))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if want := tc.gvk.GroupKind(); in.GroupKind != want {
				t.Errorf("GroupKind = %v, want %v", in.GroupKind, want)
			}
			if got, want := reflect.TypeOf(in.Typed), reflect.TypeOf(tc.obj); got != want {
				t.Fatalf("Typed is %v, want %v", got, want)
			}
			// The typed object is the submitted one, not an empty value.
			accessor, ok := in.Typed.(metav1.Object)
			if !ok {
				t.Fatalf("Typed %T has no object metadata", in.Typed)
			}
			if want := tc.obj.(metav1.Object).GetName(); accessor.GetName() != want {
				t.Errorf("Typed name = %q, want %q", accessor.GetName(), want)
			}
			spec := typedPodSpec(t, in.Typed)
			if len(spec.Containers) != 1 || spec.Containers[0].Image != "registry.example/web:1.2.3" {
				t.Errorf("Typed pod spec containers = %+v", spec.Containers)
			}
			if in.OldObject != nil {
				t.Errorf("OldObject = %v on CREATE without old object", in.OldObject)
			}
			if md, _ := in.Object["metadata"].(map[string]any); md["name"] != tc.obj.(metav1.Object).GetName() {
				t.Errorf("Object.metadata = %v", in.Object["metadata"])
			}

			if len(in.Pods) != 1 {
				t.Fatalf("Pods = %d entries, want 1: %+v", len(in.Pods), in.Pods)
			}
			p := in.Pods[0]
			if p.MetadataPath != tc.metadataPath || p.SpecPath != tc.specPath {
				t.Errorf("paths = %q, %q; want %q, %q", p.MetadataPath, p.SpecPath, tc.metadataPath, tc.specPath)
			}
			containers, ok := p.Spec["containers"].([]any)
			if !ok || len(containers) != 1 {
				t.Fatalf("Pods[0].Spec.containers = %#v", p.Spec["containers"])
			}
			c, _ := containers[0].(map[string]any)
			if c["name"] != "app" || c["image"] != "registry.example/web:1.2.3" {
				t.Errorf("Pods[0].Spec.containers[0] = %v", c)
			}
			labels, _ := p.Metadata["labels"].(map[string]any)
			if len(labels) != len(tc.podLabels) {
				t.Errorf("Pods[0].Metadata.labels = %v, want %v", labels, tc.podLabels)
			}
			for k, v := range tc.podLabels {
				if labels[k] != v {
					t.Errorf("Pods[0].Metadata.labels[%q] = %v, want %q", k, labels[k], v)
				}
			}
			// The paths name the same maps in the submitted object.
			if got := lookup(in.Object, p.MetadataPath); !sameMap(got, p.Metadata) {
				t.Errorf("Object at %s is %v, not Pods[0].Metadata", p.MetadataPath, got)
			}
			if got := lookup(in.Object, p.SpecPath); !sameMap(got, p.Spec) {
				t.Errorf("Object at %s is %v, not Pods[0].Spec", p.SpecPath, got)
			}
		})
	}
}

// lookup follows a dotted path of map keys.
func lookup(obj map[string]any, path string) any {
	var cur any = obj
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func sameMap(a any, b map[string]any) bool {
	m, ok := a.(map[string]any)
	return ok && reflect.DeepEqual(m, b)
}

// TestPodKindsMatchDecodeTable keeps the decode table above complete: every
// kind microguard checks is decoded by a case, and no more.
func TestPodKindsMatchDecodeTable(t *testing.T) {
	var want []string
	for _, tc := range podKindCases() {
		want = append(want, tc.gvk.GroupKind().String())
	}
	var got []string
	for _, gk := range admission.PodKinds() {
		got = append(got, gk.String())
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("PodKinds() = %v, want %v", got, want)
	}
}

func TestDecodeEphemeralContainers(t *testing.T) {
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta("debugged"), Spec: podSpec()}
	pod.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: "busybox:1.36"}}}
	req := request(corev1.SchemeGroupVersion.WithKind("Pod"), admissionv1.Update, mustJSON(t, pod))
	req.SubResource = "ephemeralcontainers"
	req.Resource = metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
	req.OldObject = runtime.RawExtension{Raw: mustJSON(t, &corev1.Pod{TypeMeta: pod.TypeMeta, ObjectMeta: pod.ObjectMeta, Spec: podSpec()})}

	in, err := admission.Decode(req)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	typed, ok := in.Typed.(*corev1.Pod)
	if !ok {
		t.Fatalf("Typed is %T, want *v1.Pod", in.Typed)
	}
	if len(typed.Spec.EphemeralContainers) != 1 || typed.Spec.EphemeralContainers[0].Name != "debugger" {
		t.Errorf("typed ephemeral containers = %+v", typed.Spec.EphemeralContainers)
	}
	if len(in.Pods) != 1 || in.Pods[0].MetadataPath != "metadata" || in.Pods[0].SpecPath != "spec" {
		t.Fatalf("Pods = %+v, want the pod itself", in.Pods)
	}
	if ecs, _ := in.Pods[0].Spec["ephemeralContainers"].([]any); len(ecs) != 1 {
		t.Errorf("Pods[0].Spec.ephemeralContainers = %v", in.Pods[0].Spec["ephemeralContainers"])
	}
	if in.OldObject == nil {
		t.Error("OldObject not decoded")
	}
	if doc := in.Document(); doc["subResource"] != "ephemeralcontainers" {
		t.Errorf("document subResource = %v", doc["subResource"])
	}
}

func TestDecodeNonPodKinds(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: meta("data"),
		Spec:       corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
	}
	for _, tc := range []struct {
		name string
		gvk  schema.GroupVersionKind
		raw  []byte
	}{
		{"PersistentVolumeClaim", corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"), mustJSON(t, pvc)},
		{"ConfigMap", corev1.SchemeGroupVersion.WithKind("ConfigMap"), []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"}}`)},
		// A custom resource: its spec is not checked against any Go type,
		// even when it looks like a pod template of the wrong type.
		{"custom resource", schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"},
			[]byte(`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"template":"not-an-object","containers":{"x":1}}}`)},
		// Kinds are matched by group and kind: a Deployment of another group,
		// or a Pod in apps, is not a pod kind.
		{"Deployment of another group", schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Deployment"},
			[]byte(`{"kind":"Deployment","spec":"anything"}`)},
		{"Pod in apps", schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Pod"},
			[]byte(`{"kind":"Pod","spec":"anything"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := admission.Decode(request(tc.gvk, admissionv1.Create, tc.raw))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if in.Typed != nil {
				t.Errorf("Typed = %T, want nil", in.Typed)
			}
			if len(in.Pods) != 0 {
				t.Errorf("Pods = %+v, want none", in.Pods)
			}
			if in.Object == nil {
				t.Error("Object not decoded")
			}
			if in.GroupKind != tc.gvk.GroupKind() {
				t.Errorf("GroupKind = %v, want %v", in.GroupKind, tc.gvk.GroupKind())
			}
			if pods, _ := in.Document()["pods"].([]any); pods == nil || len(pods) != 0 {
				t.Errorf("document pods = %#v, want an empty list", in.Document()["pods"])
			}
		})
	}
}

// TestDecodeWorkloadWithoutTemplate pins the behaviour for a workload whose
// pod template is absent or null: the object type-checks and its pod is an
// empty template at the path where it belongs, so policies still check the
// workload and can name the template's fields.
func TestDecodeWorkloadWithoutTemplate(t *testing.T) {
	for _, tc := range []struct {
		name string
		gvk  schema.GroupVersionKind
		raw  string
	}{
		{"Deployment without spec", appsv1.SchemeGroupVersion.WithKind("Deployment"), `{"metadata":{"name":"d"}}`},
		{"Deployment with null template", appsv1.SchemeGroupVersion.WithKind("Deployment"), `{"metadata":{"name":"d"},"spec":{"template":null}}`},
		{"CronJob without jobTemplate", batchv1.SchemeGroupVersion.WithKind("CronJob"), `{"metadata":{"name":"c"},"spec":{"schedule":"@daily"}}`},
		{"ReplicationController without template", corev1.SchemeGroupVersion.WithKind("ReplicationController"), `{"metadata":{"name":"r"},"spec":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := admission.Decode(request(tc.gvk, admissionv1.Create, []byte(tc.raw)))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if in.Typed == nil {
				t.Error("Typed is nil for a pod kind")
			}
			if len(in.Pods) != 1 || len(in.Pods[0].Metadata) != 0 || len(in.Pods[0].Spec) != 0 || !strings.HasSuffix(in.Pods[0].MetadataPath, "template.metadata") {
				t.Errorf("Pods = %+v, want one empty template", in.Pods)
			}
		})
	}
}

// TestDecodeTemplateWithoutMetadata: a template without metadata or spec
// still gives one pod, with empty maps rather than nil, so that policies can
// report the missing labels.
func TestDecodeTemplateWithoutMetadata(t *testing.T) {
	in, err := admission.Decode(request(appsv1.SchemeGroupVersion.WithKind("Deployment"), admissionv1.Create,
		[]byte(`{"metadata":{"name":"d"},"spec":{"template":{}}}`)))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(in.Pods) != 1 {
		t.Fatalf("Pods = %+v, want one", in.Pods)
	}
	p := in.Pods[0]
	if p.Metadata == nil || p.Spec == nil || len(p.Metadata) != 0 || len(p.Spec) != 0 {
		t.Errorf("Pods[0] metadata = %#v, spec = %#v; want empty maps", p.Metadata, p.Spec)
	}
	if p.MetadataPath != "spec.template.metadata" || p.SpecPath != "spec.template.spec" {
		t.Errorf("paths = %q, %q", p.MetadataPath, p.SpecPath)
	}
}

func TestDecodeOperations(t *testing.T) {
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")
	obj := func(name, image string) []byte {
		d := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta(name), Spec: appsv1.DeploymentSpec{Template: template()}}
		d.Spec.Template.Spec.Containers[0].Image = image
		return mustJSON(t, d)
	}
	name := func(m map[string]any) any {
		md, _ := m["metadata"].(map[string]any)
		return md["name"]
	}
	image := func(p admission.Pod) any {
		cs, _ := p.Spec["containers"].([]any)
		if len(cs) == 0 {
			return nil
		}
		c, _ := cs[0].(map[string]any)
		return c["image"]
	}

	t.Run("DELETE decodes the old object", func(t *testing.T) {
		req := request(gvk, admissionv1.Delete, nil)
		req.OldObject = runtime.RawExtension{Raw: obj("old", "web:old")}
		in, err := admission.Decode(req)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if name(in.Object) != "old" {
			t.Errorf("Object name = %v, want old", name(in.Object))
		}
		if len(in.Pods) != 1 || image(in.Pods[0]) != "web:old" {
			t.Errorf("Pods = %+v, want the old object's template", in.Pods)
		}
		if _, ok := in.Typed.(*appsv1.Deployment); !ok {
			t.Errorf("Typed = %T", in.Typed)
		}
	})
	t.Run("DELETE with an object decodes the object", func(t *testing.T) {
		req := request(gvk, admissionv1.Delete, obj("new", "web:new"))
		req.OldObject = runtime.RawExtension{Raw: obj("old", "web:old")}
		in, err := admission.Decode(req)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if name(in.Object) != "new" || name(in.OldObject) != "old" {
			t.Errorf("Object %v, OldObject %v", name(in.Object), name(in.OldObject))
		}
	})
	t.Run("DELETE without any object", func(t *testing.T) {
		_, err := admission.Decode(request(gvk, admissionv1.Delete, nil))
		if err == nil || !admission.IsBadInput(err) {
			t.Fatalf("Decode = %v, want bad input", err)
		}
	})
	t.Run("UPDATE keeps the old object", func(t *testing.T) {
		req := request(gvk, admissionv1.Update, obj("web", "web:new"))
		req.OldObject = runtime.RawExtension{Raw: obj("web", "web:old")}
		in, err := admission.Decode(req)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if in.OldObject == nil {
			t.Fatal("OldObject not decoded")
		}
		if len(in.Pods) != 1 || image(in.Pods[0]) != "web:new" {
			t.Errorf("Pods = %+v, want the new object's template", in.Pods)
		}
		spec, _ := lookup(in.OldObject, "spec.template.spec").(map[string]any)
		cs, _ := spec["containers"].([]any)
		if len(cs) != 1 || cs[0].(map[string]any)["image"] != "web:old" {
			t.Errorf("OldObject template containers = %v", cs)
		}
		if _, ok := in.Document()["oldObject"]; !ok {
			t.Error("document has no oldObject on UPDATE")
		}
	})
	t.Run("CREATE does not fall back to the old object", func(t *testing.T) {
		req := request(gvk, admissionv1.Create, nil)
		req.OldObject = runtime.RawExtension{Raw: obj("old", "web:old")}
		_, err := admission.Decode(req)
		if err == nil || !admission.IsBadInput(err) {
			t.Fatalf("Decode = %v, want bad input", err)
		}
	})
}

func TestDecodeBadInput(t *testing.T) {
	pod := corev1.SchemeGroupVersion.WithKind("Pod")
	deploy := appsv1.SchemeGroupVersion.WithKind("Deployment")
	cron := batchv1.SchemeGroupVersion.WithKind("CronJob")
	good := mustJSON(t, &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta("p"), Spec: podSpec()})
	withOld := func(r *admissionv1.AdmissionRequest, old string) *admissionv1.AdmissionRequest {
		r.OldObject = runtime.RawExtension{Raw: []byte(old)}
		return r
	}
	for _, tc := range []struct {
		name string
		req  *admissionv1.AdmissionRequest
		// msg is a part of the error message.
		msg string
	}{
		{"nil request", nil, "no request"},
		{"no object", request(pod, admissionv1.Create, nil), "has no object"},
		{"empty object", request(pod, admissionv1.Create, []byte{}), "has no object"},
		{"non-JSON", request(pod, admissionv1.Create, []byte("kind: Pod\nmetadata: {}")), "decoding"},
		{"truncated JSON", request(pod, admissionv1.Create, []byte(`{"kind":"Pod","spec":{`)), "decoding"},
		{"trailing garbage", request(pod, admissionv1.Create, []byte(`{"kind":"Pod"} {}`)), "decoding"},
		{"JSON array", request(pod, admissionv1.Create, []byte(`[{"kind":"Pod"}]`)), "not a JSON object"},
		{"JSON string", request(pod, admissionv1.Create, []byte(`"pod"`)), "not a JSON object"},
		{"JSON null", request(pod, admissionv1.Create, []byte(`null`)), "not a JSON object"},
		{"JSON array of a non-pod kind", request(corev1.SchemeGroupVersion.WithKind("ConfigMap"), admissionv1.Create, []byte(`[]`)), "not a JSON object"},
		{"number out of range", request(pod, admissionv1.Create, []byte(`{"spec":{"x":1e400}}`)), "decoding"},
		{"Pod spec is a string", request(pod, admissionv1.Create, []byte(`{"kind":"Pod","metadata":{"name":"p"},"spec":"containers"}`)), "wrong type"},
		{"Pod label is a number", request(pod, admissionv1.Create, []byte(`{"metadata":{"name":"p","labels":{"owner":7}},"spec":{}}`)), "wrong type"},
		{"Pod metadata is a list", request(pod, admissionv1.Create, []byte(`{"metadata":[],"spec":{}}`)), "wrong type"},
		{"Deployment containers is an object", request(deploy, admissionv1.Create,
			[]byte(`{"kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":{"name":"app","image":"x"}}}}}`)), "wrong type"},
		{"Deployment template is a string", request(deploy, admissionv1.Create, []byte(`{"metadata":{"name":"d"},"spec":{"template":"pod"}}`)), ""},
		{"Deployment spec is a list", request(deploy, admissionv1.Create, []byte(`{"metadata":{"name":"d"},"spec":[]}`)), ""},
		{"CronJob jobTemplate is a number", request(cron, admissionv1.Create, []byte(`{"kind":"CronJob","metadata":{"name":"c"},"spec":{"schedule":"@daily","jobTemplate":42}}`)), ""},
		{"bad old object", withOld(request(pod, admissionv1.Update, good), `{"spec":`), "decoding old"},
		{"old object is an array", withOld(request(pod, admissionv1.Update, good), `[]`), "decoding old"},
		{"DELETE with a broken old object", withOld(request(pod, admissionv1.Delete, nil), `not json`), "decoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := admission.Decode(tc.req)
			if err == nil {
				t.Fatalf("Decode = %+v, want an error", in)
			}
			if in != nil {
				t.Errorf("Decode returned input %+v with error %v", in, err)
			}
			if !admission.IsBadInput(err) {
				t.Errorf("IsBadInput(%v) = false", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
}

func TestIsBadInput(t *testing.T) {
	cause := errors.New("boom")
	bad := &admission.Error{Err: cause}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{cause, false},
		{fmt.Errorf("reading: %w", cause), false},
		{bad, true},
		{fmt.Errorf("deciding: %w", bad), true},
	} {
		if got := admission.IsBadInput(tc.err); got != tc.want {
			t.Errorf("IsBadInput(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if !errors.Is(bad, cause) || bad.Error() != "boom" {
		t.Errorf("Error does not wrap its cause: %v", bad)
	}
}

func TestDecodeObject(t *testing.T) {
	d := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"}, Spec: appsv1.DeploymentSpec{Template: template()}}
	in, err := admission.DecodeObject(mustJSON(t, d), appsv1.SchemeGroupVersion.WithKind("Deployment"), "shop", "web")
	if err != nil {
		t.Fatalf("DecodeObject: %v", err)
	}
	r := in.Request
	if r.Operation != admissionv1.Create || r.Namespace != "shop" || r.Name != "web" {
		t.Errorf("request = %s %s/%s", r.Operation, r.Namespace, r.Name)
	}
	if r.Kind != (metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}) {
		t.Errorf("request kind = %v", r.Kind)
	}
	if len(in.Pods) != 1 || in.Pods[0].MetadataPath != "spec.template.metadata" {
		t.Errorf("Pods = %+v", in.Pods)
	}
	if _, err := admission.DecodeObject([]byte(`{"spec":"x"}`), corev1.SchemeGroupVersion.WithKind("Pod"), "", ""); !admission.IsBadInput(err) {
		t.Errorf("DecodeObject of a bad Pod = %v, want bad input", err)
	}
}
