package chart

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// TestEveryValuesSetRenders renders the defaults and every ci file and
// decodes each object strictly into its API type: a misspelt field would be
// silently dropped by the API server.
func TestEveryValuesSetRenders(t *testing.T) {
	for _, file := range valueSets(t) {
		t.Run(setName(file), func(t *testing.T) {
			t.Parallel()
			r := render(t, file)
			r.decodeAll()
			for _, o := range r.objects {
				if !strings.HasPrefix(o.Name, release) {
					t.Errorf("%s %s is not named after the release", o.Kind, o.Name)
				}
				switch o.Kind {
				case "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
				default:
					// keyRef Roles live in the key's namespace.
					if o.Namespace == "" {
						t.Errorf("%s %s has no namespace", o.Kind, o.Name)
					}
				}
			}
		})
	}
}

// TestDefaultsAreHighlyAvailableAndHardened: the defaults are fit for a
// production cluster.
func TestDefaultsAreHighlyAvailableAndHardened(t *testing.T) {
	r := render(t, "")
	w := r.workload()
	if w.Replicas != 2 {
		t.Errorf("replicas %d, want 2", w.Replicas)
	}
	podLabels := labels.Set(w.Template.Labels)
	if !labels.SelectorFromSet(w.Selector).Matches(podLabels) {
		t.Errorf("workload selector %v does not match its pods %v", w.Selector, podLabels)
	}

	var pdb policyv1.PodDisruptionBudget
	r.one("PodDisruptionBudget", &pdb)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("PDB maxUnavailable %v minAvailable %v, want maxUnavailable 1", pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
	}
	if !selects(t, pdb.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("PDB selector %v does not match the pods %v", pdb.Spec.Selector.MatchLabels, podLabels)
	}

	spec := w.Template.Spec
	var byHost bool
	for _, c := range spec.TopologySpreadConstraints {
		if c.LabelSelector == nil || !selects(t, c.LabelSelector.MatchLabels, podLabels) {
			t.Errorf("topology spread on %s does not select the pods", c.TopologyKey)
		}
		if c.TopologyKey == "kubernetes.io/hostname" && c.WhenUnsatisfiable == corev1.DoNotSchedule && c.MaxSkew == 1 {
			byHost = true
		}
	}
	if !byHost {
		t.Errorf("replicas are not spread across nodes (hostname, DoNotSchedule): %+v", spec.TopologySpreadConstraints)
	}
	if spec.PriorityClassName != "" {
		t.Errorf("priorityClassName %q by default: a class must exist first", spec.PriorityClassName)
	}

	// The real Pod Security admission, restricted, latest.
	eval, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res := psapolicy.AggregateCheckResults(eval.EvaluatePod(api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}, &w.Template.ObjectMeta, &spec))
	if !res.Allowed {
		t.Errorf("the pod template breaks the restricted Pod Security Standard: %s: %s", res.ForbiddenReason(), res.ForbiddenDetail())
	}
	c := w.container(t)
	sc, psc := c.SecurityContext, spec.SecurityContext
	switch {
	case sc == nil || psc == nil:
		t.Fatal("no security context")
	case !deref(psc.RunAsNonRoot) || !deref(sc.RunAsNonRoot):
		t.Error("runAsNonRoot is not set")
	case !deref(sc.ReadOnlyRootFilesystem):
		t.Error("the root filesystem is writable")
	case deref(sc.AllowPrivilegeEscalation) || sc.AllowPrivilegeEscalation == nil:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
		t.Errorf("capabilities %+v, want drop ALL", sc.Capabilities)
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("seccomp %+v, want RuntimeDefault", psc.SeccompProfile)
	}

	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if c.Resources.Requests.Name(res, "").IsZero() || c.Resources.Limits.Name(res, "").IsZero() {
			t.Errorf("%s: requests %v limits %v, want both", res, c.Resources.Requests, c.Resources.Limits)
		}
	}

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	args := c.Args
	for name, flag := range map[string]string{"webhook": "--port", "health": "--health-port", "metrics": "--metrics-port"} {
		if want := fmt.Sprintf("%s=%d", flag, ports[name]); ports[name] == 0 || !slices.Contains(args, want) {
			t.Errorf("container port %s (%d) and flag %s disagree: args %v", name, ports[name], flag, args)
		}
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "health" {
			t.Errorf("%s probe %+v, want GET %s on the health port", p.name, p.probe, p.path)
		}
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 5 {
		t.Errorf("preStop %+v, want a sleep of 5 s or more so endpoints drain first", c.Lifecycle)
	} else if grace := deref(spec.TerminationGracePeriodSeconds); grace < c.Lifecycle.PreStop.Sleep.Seconds+30 {
		t.Errorf("terminationGracePeriodSeconds %d leaves less than 30 s for in-flight reviews after a %d s preStop", grace, c.Lifecycle.PreStop.Sleep.Seconds)
	}
	if !hasEnvFromField(c, "POD_NAME", "metadata.name") {
		t.Error("no POD_NAME from metadata.name")
	}
	if e := envOf(c, "GOMEMLIMIT"); e == nil || e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil || e.ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
		t.Errorf("GOMEMLIMIT %+v, want the container's memory limit", e)
	}
	if c.Image != "ghcr.io/microguard/microguard:0.1.0" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %s (%s)", c.Image, c.ImagePullPolicy)
	}

	// Every mount but the two microguard writes is read-only.
	for _, m := range c.VolumeMounts {
		if m.MountPath != "/tls" && m.MountPath != "/var/lib/microguard" && !m.ReadOnly {
			t.Errorf("mount %s is writable", m.MountPath)
		}
	}
	if m := mountOf(c, "/etc/microguard/config"); !slices.Contains(args, "--config=/etc/microguard/config/config.yaml") || m == nil || m.SubPath != "" {
		t.Errorf("the config is not mounted as a directory where --config points (a subPath mount never sees a changed ConfigMap, so it could not be reloaded): %v, %+v", args, m)
	}
	if w.Template.Annotations["checksum/config"] == "" {
		t.Error("no checksum/config annotation: pods would not roll when the config changes")
	}

	var svc corev1.Service
	r.named("Service", release, &svc)
	if !selects(t, svc.Spec.Selector, podLabels) {
		t.Errorf("Service selector %v does not match the pods", svc.Spec.Selector)
	}
	svcPorts := map[string]string{}
	for _, p := range svc.Spec.Ports {
		svcPorts[fmt.Sprint(p.Port)] = p.TargetPort.String()
	}
	if svcPorts["443"] != "webhook" || svcPorts["8080"] != "metrics" {
		t.Errorf("Service ports %v, want 443→webhook and 8080→metrics", svcPorts)
	}
}

// TestRequiredInEveryValuesSet: what must hold whatever the values.
func TestRequiredInEveryValuesSet(t *testing.T) {
	for _, file := range valueSets(t) {
		t.Run(setName(file), func(t *testing.T) {
			t.Parallel()
			vals := values(t, file)
			r := render(t, file)
			w := r.workload()
			if int(w.Replicas) != num(vals, "replicaCount") || w.Replicas < 1 {
				t.Errorf("replicas %d, values say %d", w.Replicas, num(vals, "replicaCount"))
			}
			c := w.container(t)
			if !slices.Contains(c.Args, "--cert-dir=/tls") || mountOf(c, "/tls") == nil {
				t.Errorf("--cert-dir=/tls not mounted: %v", c.Args)
			}
			if !hasEnvFromField(c, "POD_NAME", "metadata.name") {
				t.Error("no POD_NAME")
			}
			if sc := c.SecurityContext; sc == nil || !deref(sc.ReadOnlyRootFilesystem) || !deref(sc.RunAsNonRoot) {
				t.Error("the container is not read-only and non-root")
			}
			if num(vals, "replicaCount") > 1 && !r.has("PodDisruptionBudget") {
				t.Error("no PodDisruptionBudget")
			}
			if boolean(vals, "networkPolicy", "enabled") {
				checkNetworkPolicy(t, r, w, c)
			}
		})
	}
}

// checkNetworkPolicy: ingress to the webhook and metrics ports only.
func checkNetworkPolicy(t *testing.T, r *rendered, w workload, c corev1.Container) {
	t.Helper()
	var np networkingv1.NetworkPolicy
	r.one("NetworkPolicy", &np)
	if !selects(t, np.Spec.PodSelector.MatchLabels, labels.Set(w.Template.Labels)) {
		t.Errorf("NetworkPolicy selects %v, not the pods", np.Spec.PodSelector.MatchLabels)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policyTypes %v", np.Spec.PolicyTypes)
	}
	containerPorts := map[string]bool{}
	for _, p := range c.Ports {
		containerPorts[p.Name] = true
	}
	var opened []string
	for _, rule := range np.Spec.Ingress {
		if len(rule.Ports) == 0 {
			t.Errorf("an ingress rule opens every port: %+v", rule)
		}
		for _, p := range rule.Ports {
			if p.Port == nil || !containerPorts[p.Port.String()] {
				t.Errorf("ingress to %v, which is no named container port", p.Port)
				continue
			}
			opened = append(opened, p.Port.String())
		}
	}
	slices.Sort(opened)
	if !slices.Equal(opened, []string{"metrics", "webhook"}) {
		t.Errorf("ingress open to %v, want exactly metrics and webhook", opened)
	}
}

// TestReplicasAndDisruptionBudget: replicas and the PDB follow the values.
func TestReplicasAndDisruptionBudget(t *testing.T) {
	r := render(t, "", "--set", "replicaCount=5", "--set", "podDisruptionBudget.maxUnavailable=null", "--set", "podDisruptionBudget.minAvailable=3")
	if w := r.workload(); w.Replicas != 5 {
		t.Errorf("replicas %d, want 5", w.Replicas)
	}
	var pdb policyv1.PodDisruptionBudget
	r.one("PodDisruptionBudget", &pdb)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 3 || pdb.Spec.MaxUnavailable != nil {
		t.Errorf("PDB %+v, want minAvailable 3", pdb.Spec)
	}
	if r := render(t, "", "--set", "podDisruptionBudget.enabled=false"); r.has("PodDisruptionBudget") {
		t.Error("podDisruptionBudget.enabled=false still renders one")
	}
	if r := render(t, "", "--set", "priorityClassName=microguard-critical"); r.workload().Template.Spec.PriorityClassName != "microguard-critical" {
		t.Error("priorityClassName is not used")
	}
	if c := render(t, "", "--set", "image.digest=sha256:"+strings.Repeat("a", 64)).workload().container(t); c.Image != "ghcr.io/microguard/microguard:0.1.0@sha256:"+strings.Repeat("a", 64) {
		t.Errorf("image by digest: %s", c.Image)
	}
}

func selects(t *testing.T, selector map[string]string, pod labels.Set) bool {
	t.Helper()
	return len(selector) > 0 && labels.SelectorFromSet(selector).Matches(pod)
}

func hasEnvFromField(c corev1.Container, name, field string) bool {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == field {
			return true
		}
	}
	return false
}

func mountOf(c corev1.Container, path string) *corev1.VolumeMount {
	for i, m := range c.VolumeMounts {
		if m.MountPath == path {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func volumeOf(spec corev1.PodSpec, name string) *corev1.Volume {
	for i, v := range spec.Volumes {
		if v.Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

func envOf(c corev1.Container, name string) *corev1.EnvVar {
	for i, e := range c.Env {
		if e.Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func argWith(c corev1.Container, prefix string) (string, bool) {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, prefix); ok {
			return v, true
		}
	}
	return "", false
}
