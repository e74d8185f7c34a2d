package e2e

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func owned(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: "secure", Name: name, Labels: map[string]string{"owner": "ana", "app": name}}
}

func TestPodSecurity(t *testing.T) {
	ctx := context.Background()
	namespace(t, "secure", map[string]string{"owner": "ana"})

	privileged := &corev1.Pod{ObjectMeta: owned("privileged"), Spec: podTemplate(nil).Spec}
	yes := true
	privileged.Spec.Containers[0].SecurityContext.Privileged = &yes
	privileged.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = &yes // the API refuses privileged without it
	denied(t, cluster.Client.Create(ctx, privileged),
		"[pod-security/privileged]", "(field: spec.containers[0].securityContext.privileged). Fix:")

	tpl := podTemplate(map[string]string{"owner": "ana", "app": "reviews"})
	tpl.Spec.SecurityContext.RunAsNonRoot = nil
	dep := &appsv1.Deployment{ObjectMeta: owned("reviews"), Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "reviews"}}, Template: tpl,
	}}
	denied(t, cluster.Client.Create(ctx, dep), "[pod-security/runAsNonRoot]", "spec.template.spec", "runAsNonRoot", "Fix:")

	job := podTemplate(map[string]string{"owner": "ana", "app": "backup"})
	job.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	job.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib"}}}}
	cron := &batchv1.CronJob{ObjectMeta: owned("backup"), Spec: batchv1.CronJobSpec{Schedule: "0 4 * * *", JobTemplate: batchv1.JobTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"owner": "ana"}}, Spec: batchv1.JobSpec{Template: job},
	}}}
	denied(t, cluster.Client.Create(ctx, cron), "[pod-security/restrictedVolumes]", "(field: spec.jobTemplate.spec.template.spec.volumes[0]", "Fix:")

	good := &appsv1.Deployment{ObjectMeta: owned("menu"), Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "menu"}},
		Template: podTemplate(map[string]string{"owner": "ana", "app": "menu"}),
	}}
	if err := cluster.Client.Create(ctx, good); err != nil {
		t.Fatalf("compliant Deployment denied: %v", err)
	}
}

// TestPrivilegedEphemeralContainerIsDenied: `kubectl debug` adds ephemeral
// containers through the pods/ephemeralcontainers subresource; a privileged
// one is refused like any other privileged container.
func TestPrivilegedEphemeralContainerIsDenied(t *testing.T) {
	ctx := context.Background()
	namespace(t, "secure", map[string]string{"owner": "ana"})
	pod := &corev1.Pod{ObjectMeta: owned("debug-target"), Spec: podTemplate(nil).Spec}
	if err := cluster.Client.Create(ctx, pod); err != nil {
		t.Fatalf("compliant pod denied: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cluster.RestConfig)
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	add := func(name string, privileged *bool) error {
		current, err := cs.CoreV1().Pods("secure").Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		current.Spec.EphemeralContainers = append(current.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: name, Image: "registry.example/debug:1",
				SecurityContext: &corev1.SecurityContext{
					Privileged: privileged, AllowPrivilegeEscalation: privileged,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			},
		})
		_, err = cs.CoreV1().Pods("secure").UpdateEphemeralContainers(ctx, pod.Name, current, metav1.UpdateOptions{})
		return err
	}
	denied(t, add("shell", &yes), "[pod-security/privileged]", "(field: spec.ephemeralContainers[0].securityContext.privileged)", "Fix:")
	if err := add("safe-shell", &no); err != nil {
		t.Fatalf("compliant ephemeral container denied: %v", err)
	}
}
