package mutate

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/microguard/microguard/pkg/config"
)

// Benchmarks of each mutator of Registry, with its default options, and of
// the whole chain, on a typical pod: a Deployment's pod (owner reference,
// pod-template-hash) with an init container and two containers, one of
// which already sets its resources and some env.
//
//	go test -run '^$' -bench 'Mutator|Chain|DeepCopy' -benchmem ./pkg/mutate/

var benchContext = Context{
	Namespace:       "shop",
	NamespaceLabels: map[string]string{"owner": "ana", "team": "food", "cost-center": "cc-42", "env": "prod"},
	Digests: map[string]string{
		"registry.example/shop/menu:1.4.2":  "registry.example/shop/menu:1.4.2@sha256:" + digest("a"),
		"registry.example/shop/migrate:1.4": "registry.example/shop/migrate:1.4@sha256:" + digest("b"),
		"registry.example/proxy:2.0":        "registry.example/proxy:2.0@sha256:" + digest("c"),
	},
}

func digest(c string) string {
	out := ""
	for range 64 {
		out += c
	}
	return out
}

func typicalPod() *corev1.Pod {
	yes, no := true, false
	uid := int64(1000)
	restricted := func() *corev1.SecurityContext {
		return &corev1.SecurityContext{AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	}
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "menu-7d4b9c6f8-", Namespace: "shop",
			Labels:          map[string]string{"app": "menu", "owner": "ana", "pod-template-hash": "7d4b9c6f8", "app.kubernetes.io/version": "1.4.2"},
			Annotations:     map[string]string{"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "menu-7d4b9c6f8", UID: "u", Controller: &yes}},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: "menu",
			SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			InitContainers: []corev1.Container{{
				Name: "migrate", Image: "registry.example/shop/migrate:1.4", Args: []string{"migrate", "up"},
				SecurityContext: restricted(),
			}},
			Containers: []corev1.Container{{
				Name: "menu", Image: "registry.example/shop/menu:1.4.2",
				Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				Env:             []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "DB_HOST", Value: "db.shop.svc"}},
				ReadinessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}}},
				VolumeMounts:    []corev1.VolumeMount{{Name: "config", MountPath: "/etc/menu"}},
				SecurityContext: restricted(),
			}, {
				Name: "proxy", Image: "registry.example/proxy:2.0",
				Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: 8443}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
				},
				SecurityContext: restricted(),
			}},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "menu"}}}}},
		},
	}
}

// defaultMutator builds the registered mutator id with its default options.
func defaultMutator(tb testing.TB, id string) Mutator {
	tb.Helper()
	cfg := config.Default(config.Schema{Mutations: Schema()})
	for _, f := range Registry {
		if f.Spec.ID == id {
			m, err := f.New(cfg.Mutations[id].Options)
			if err != nil {
				tb.Fatal(err)
			}
			return m
		}
	}
	tb.Fatalf("no mutator %s", id)
	return nil
}

// benchmarkMutator measures one mutator on the typical pod:
//
//	fresh    a copy of the unmutated pod, which it changes (the copy is
//	         included: BenchmarkPodDeepCopy is its cost alone)
//	mutated  the pod it already changed, which it leaves alone (what
//	         Chain.Missing does for each mutator in validation, minus the copy)
func benchmarkMutator(b *testing.B, id string) {
	m := defaultMutator(b, id)
	p := typicalPod()
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if changed, err := m.Mutate(p.DeepCopy(), benchContext); err != nil || !changed {
				b.Fatal(changed, err)
			}
		}
	})
	done := p.DeepCopy()
	if _, err := m.Mutate(done, benchContext); err != nil {
		b.Fatal(err)
	}
	b.Run("mutated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if changed, err := m.Mutate(done, benchContext); err != nil || changed {
				b.Fatal(changed, err)
			}
		}
	})
}

func BenchmarkMutatorCostTags(b *testing.B)         { benchmarkMutator(b, "cost-tags") }
func BenchmarkMutatorDefaultResources(b *testing.B) { benchmarkMutator(b, "default-resources") }
func BenchmarkMutatorOpenTelemetry(b *testing.B)    { benchmarkMutator(b, "opentelemetry") }
func BenchmarkMutatorPinDigests(b *testing.B)       { benchmarkMutator(b, "pin-digests") }

func BenchmarkPodDeepCopy(b *testing.B) {
	p := typicalPod()
	b.ReportAllocs()
	for b.Loop() {
		_ = p.DeepCopy()
	}
}

// defaultChain is every registered mutator with its default options.
func defaultChain(tb testing.TB) *Chain {
	tb.Helper()
	c, err := NewChain(config.Default(config.Schema{Mutations: Schema()}))
	if err != nil {
		tb.Fatal(err)
	}
	if c.Len() != len(Registry) {
		tb.Fatalf("%d of %d mutators enabled", c.Len(), len(Registry))
	}
	return c
}

// BenchmarkChainApply is the mutating webhook's work on the typical pod:
// every mutator changes it, and the patch is computed and re-based onto the
// pod as submitted.
func BenchmarkChainApply(b *testing.B) {
	c := defaultChain(b)
	p := typicalPod()
	raw := rawPod(b, p)
	ops, applied, err := c.Apply(raw, p, benchContext)
	if err != nil || len(applied) != len(Registry) || len(ops) == 0 {
		b.Fatalf("applied %v, %d ops, err %v", applied, len(ops), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Apply(raw, p, benchContext); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChainMissing is the mutations-applied check of validation:
// unmutated, every mutator reports a missing change; mutated (the usual
// case), none does.
func BenchmarkChainMissing(b *testing.B) {
	c := defaultChain(b)
	p := typicalPod()
	done := p.DeepCopy()
	var ids []string
	for _, n := range c.mutators {
		if _, err := n.m.Mutate(done, benchContext); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, n.id)
	}
	record(done, ids)
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want int
	}{{"unmutated", p, len(Registry)}, {"mutated", done, 0}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m, err := c.Missing(tc.pod, benchContext); err != nil || len(m) != tc.want {
					b.Fatal(m, err)
				}
			}
		})
	}
}

// BenchmarkPatch is the diff alone (patch.go) for the typical pod: its two
// typed encodings, before and after the chain, written against raw; and,
// for the size of the encodings, one json.Marshal of the pod.
func BenchmarkPatch(b *testing.B) {
	p := typicalPod()
	raw := rawPod(b, p)
	before := mustMarshal(b, p)
	after := mustMarshal(b, mutated(b, defaultChain(b), p, benchContext))
	b.Run("diffOnto", func(b *testing.B) {
		b.SetBytes(int64(len(raw) + len(before) + len(after)))
		b.ReportAllocs()
		for b.Loop() {
			if ops, err := diffOnto(raw, before, after); err != nil || len(ops) == 0 {
				b.Fatal(ops, err)
			}
		}
	})
	b.Run("firstChange", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if path, err := firstChange(before, after); err != nil || path == "" {
				b.Fatal(path, err)
			}
		}
	})
	b.Run("marshal", func(b *testing.B) {
		b.SetBytes(int64(len(before)))
		b.ReportAllocs()
		for b.Loop() {
			mustMarshal(b, p)
		}
	})
}
