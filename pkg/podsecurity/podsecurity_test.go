package podsecurity

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

func ptr[T any](v T) *T { return &v }

// pods cover the checks that change across versions and levels.
func pods() map[string]*corev1.PodSpec {
	restricted := func() *corev1.PodSpec {
		return &corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{Name: "app", Image: "app:1", SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			}}},
		}
	}
	out := map[string]*corev1.PodSpec{"restricted": restricted(), "bare": {Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}
	p := restricted()
	p.Containers[0].SecurityContext.Privileged = ptr(true)
	out["privileged"] = p
	p = restricted()
	p.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
	out["hostPort"] = p
	p = restricted()
	p.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
	out["hostPath"] = p
	p = restricted()
	p.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_RAW"}
	out["netRaw"] = p
	p = restricted()
	p.OS = &corev1.PodOS{Name: corev1.Windows}
	p.SecurityContext.SeccompProfile = nil
	out["windows"] = p
	p = restricted()
	p.Containers[0].SecurityContext.RunAsUser = ptr(int64(0))
	out["root"] = p
	return out
}

// The failing checks and their reasons are upstream's verdict, at every
// level and version.
func TestEvaluateAgreesWithUpstream(t *testing.T) {
	up, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	versions := []string{"latest"}
	for m := 0; m <= 40; m++ {
		versions = append(versions, fmt.Sprintf("v1.%d", m))
	}
	denied := 0
	for name, spec := range pods() {
		meta := &metav1.ObjectMeta{Name: name}
		for _, level := range []string{"baseline", "restricted"} {
			for _, version := range versions {
				e, err := New(map[string]any{"level": level, "version": version})
				if err != nil {
					t.Fatal(err)
				}
				got := e.Evaluate(nil, []Pod{{Meta: meta, Spec: spec}})
				if got["level"] != level || got["version"] != version {
					t.Fatalf("%s %s: evaluated at %v %v", level, version, got["level"], got["version"])
				}
				var reasons []string
				for _, f := range got["failing"].(map[string]any) {
					reasons = append(reasons, f.(map[string]any)["reason"].(string))
				}
				v, _ := api.ParseVersion(version)
				var want []string
				for _, r := range up.EvaluatePod(api.LevelVersion{Level: api.Level(level), Version: v}, meta, spec) {
					if !r.Allowed {
						want = append(want, r.ForbiddenReason)
					}
				}
				slices.Sort(reasons)
				slices.Sort(want)
				if !slices.Equal(reasons, want) {
					t.Errorf("pod %s at %s %s: failing %v, upstream %v", name, level, version, reasons, want)
				}
				if len(want) > 0 {
					denied++
				}
			}
		}
	}
	if denied == 0 {
		t.Fatal("no pod was denied: the test proves nothing")
	}
}

func TestEvaluateNamesCheckAndPod(t *testing.T) {
	e, err := New(map[string]any{"level": "baseline"})
	if err != nil {
		t.Fatal(err)
	}
	ps := pods()
	got := e.Evaluate(nil, []Pod{{Meta: &metav1.ObjectMeta{}, Spec: ps["restricted"]}, {Meta: &metav1.ObjectMeta{}, Spec: ps["privileged"]}})
	failing := got["failing"].(map[string]any)
	if keys := slices.Sorted(maps.Keys(failing)); !slices.Equal(keys, []string{"privileged"}) {
		t.Fatalf("failing checks %v, want [privileged]", keys)
	}
	if f := failing["privileged"].(map[string]any); f["pod"] != int64(1) || f["detail"] != `container "app" must not set securityContext.privileged=true` {
		t.Errorf("privileged: %v", f)
	}
}

// The level and version are the pod-security policy's: the options, or with
// allowNamespaceOverride the namespace's enforce labels, invalid ones read
// as restricted and latest.
func TestPolicy(t *testing.T) {
	const lvl, ver = api.EnforceLevelLabel, api.EnforceVersionLabel
	for _, c := range []struct {
		override             bool
		labels               map[string]string
		wantLevel, wantVersn string
	}{
		{false, map[string]string{lvl: "privileged", ver: "v1.20"}, "baseline", "v1.30"},
		{true, nil, "baseline", "v1.30"},
		{true, map[string]string{lvl: "privileged"}, "privileged", "v1.30"},
		{true, map[string]string{lvl: "restricted", ver: "v1.25"}, "restricted", "v1.25"},
		{true, map[string]string{lvl: "bogus", ver: "1.25"}, "restricted", "latest"},
		{true, map[string]string{ver: "latest"}, "baseline", "latest"},
	} {
		e, err := New(map[string]any{"level": "baseline", "version": "v1.30", "allowNamespaceOverride": c.override})
		if err != nil {
			t.Fatal(err)
		}
		if lv := e.Policy(c.labels); string(lv.Level) != c.wantLevel || lv.Version.String() != c.wantVersn {
			t.Errorf("override %v, labels %v: %s, want %s %s", c.override, c.labels, lv, c.wantLevel, c.wantVersn)
		}
	}
	// Privileged runs no check.
	e, _ := New(map[string]any{"allowNamespaceOverride": true})
	got := e.Evaluate(map[string]string{lvl: "privileged"}, []Pod{{Meta: &metav1.ObjectMeta{}, Spec: pods()["privileged"]}})
	if len(got["failing"].(map[string]any)) != 0 {
		t.Errorf("privileged namespace: %v", got)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, o := range []map[string]any{{"level": "strict"}, {"version": "1.30"}} {
		if _, err := New(o); err == nil {
			t.Errorf("%v: no error", o)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	e, err := New(map[string]any{})
	if err != nil {
		b.Fatal(err)
	}
	pod := []Pod{{Meta: &metav1.ObjectMeta{}, Spec: pods()["restricted"]}}
	b.ReportAllocs()
	for b.Loop() {
		if f := e.Evaluate(nil, pod)["failing"].(map[string]any); len(f) != 0 {
			b.Fatal(f)
		}
	}
}
