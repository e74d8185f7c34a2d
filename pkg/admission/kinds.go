package admission

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// podKind says where a kind keeps its pod (template), as a path of map keys in
// the submitted object, and which typed object checks the field types.
type podKind struct {
	template []string // path to the pod template (metadata + spec); nil for a Pod
	typed    func() runtime.Object
}

// podKinds are the kinds whose pods policies check: Pods and every built-in
// workload with a pod template.
var podKinds = map[schema.GroupKind]podKind{
	{Group: "", Kind: "Pod"}:                   {typed: func() runtime.Object { return &corev1.Pod{} }},
	{Group: "", Kind: "ReplicationController"}: {template: []string{"spec", "template"}, typed: func() runtime.Object { return &corev1.ReplicationController{} }},
	{Group: "apps", Kind: "Deployment"}:        {template: []string{"spec", "template"}, typed: func() runtime.Object { return &appsv1.Deployment{} }},
	{Group: "apps", Kind: "StatefulSet"}:       {template: []string{"spec", "template"}, typed: func() runtime.Object { return &appsv1.StatefulSet{} }},
	{Group: "apps", Kind: "DaemonSet"}:         {template: []string{"spec", "template"}, typed: func() runtime.Object { return &appsv1.DaemonSet{} }},
	{Group: "apps", Kind: "ReplicaSet"}:        {template: []string{"spec", "template"}, typed: func() runtime.Object { return &appsv1.ReplicaSet{} }},
	{Group: "batch", Kind: "Job"}:              {template: []string{"spec", "template"}, typed: func() runtime.Object { return &batchv1.Job{} }},
	{Group: "batch", Kind: "CronJob"}:          {template: []string{"spec", "jobTemplate", "spec", "template"}, typed: func() runtime.Object { return &batchv1.CronJob{} }},
}

// PodKinds lists the group/kinds whose pods microguard checks, for webhook
// registration and documentation.
func PodKinds() []schema.GroupKind {
	out := make([]schema.GroupKind, 0, len(podKinds))
	for gk := range podKinds {
		out = append(out, gk)
	}
	return out
}

// TypedPod is the typed metadata and spec of the pod in a decoded object
// of a pod kind (a Pod, or the template of a workload); ok is false for
// other objects.
func TypedPod(obj runtime.Object) (meta *metav1.ObjectMeta, spec *corev1.PodSpec, ok bool) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &o.ObjectMeta, &o.Spec, true
	case *corev1.ReplicationController:
		if o.Spec.Template == nil {
			return &metav1.ObjectMeta{}, &corev1.PodSpec{}, true
		}
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true
	case *appsv1.Deployment:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true
	case *appsv1.StatefulSet:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true
	case *appsv1.DaemonSet:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true
	case *appsv1.ReplicaSet:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true
	case *batchv1.Job:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.Spec, true
	}
	return nil, nil, false
}
