package mutate

import (
	"flag"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/microguard/microguard/pkg/config"
)

var (
	propertySeed = flag.Uint64("mutate.seed", 1, "seed of the generated pods")
	propertyPods = flag.Int("mutate.pods", 2000, "how many generated pods")
)

// randomPod perturbs what the mutators read: labels (set, empty, absent),
// requests and limits per resource, init and ephemeral containers.
func randomPod(r *rand.Rand) *corev1.Pod {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}}
	for _, k := range []string{"owner", "team", "cost-center", "env", "app"} {
		switch r.IntN(3) {
		case 0:
			if p.Labels == nil {
				p.Labels = map[string]string{}
			}
			p.Labels[k] = pick("", "x", "bob")
		}
	}
	if r.IntN(4) == 0 {
		p.Annotations = map[string]string{MutationsAnnotation: pick("opentelemetry", "cost-tags", "")}
	}
	quantity := func() resource.Quantity { return resource.MustParse(pick("10m", "1", "64Mi", "512Mi", "2Gi")) }
	container := func(name string) corev1.Container {
		c := corev1.Container{Name: name, Image: "img"}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
			if r.IntN(3) == 0 {
				if c.Resources.Requests == nil {
					c.Resources.Requests = corev1.ResourceList{}
				}
				c.Resources.Requests[res] = quantity()
			}
			if r.IntN(3) == 0 {
				if c.Resources.Limits == nil {
					c.Resources.Limits = corev1.ResourceList{}
				}
				c.Resources.Limits[res] = quantity()
			}
		}
		return c
	}
	for i := range 1 + r.IntN(3) {
		p.Spec.Containers = append(p.Spec.Containers, container(pick("a", "b", "c")+string(rune('0'+i))))
	}
	for i := range r.IntN(3) {
		p.Spec.InitContainers = append(p.Spec.InitContainers, container("init"+string(rune('0'+i))))
	}
	if r.IntN(3) == 0 {
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "d"}}}
	}
	return p
}

// TestMutationIsIdempotent: for generated pods and namespaces, the patch
// applies to the pod as a client sends it, the result keeps every value the
// user set, and mutating the result again changes nothing.
func TestMutationIsIdempotent(t *testing.T) {
	r := rand.New(rand.NewPCG(*propertySeed, 7))
	cfg := config.Default(config.Schema{Mutations: Schema()})
	c, err := NewChain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nsLabels := []map[string]string{nil, {"owner": "ana"}, {"owner": "ana", "team": "food", "cost-center": "cc", "env": "prod", "other": "x"}}
	failures := 0
	for i := range *propertyPods {
		p := randomPod(r)
		mc := Context{Namespace: "shop", NamespaceLabels: nsLabels[r.IntN(len(nsLabels))]}
		got, _, _ := apply(t, c, p.DeepCopy(), mc)
		for k, v := range p.Labels {
			if v != "" && got.Labels[k] != v {
				t.Errorf("pod %d: label %s changed from %q to %q", i, k, v, got.Labels[k])
			}
		}
		for ci, ctr := range p.Spec.Containers {
			for res, q := range ctr.Resources.Requests {
				if g := got.Spec.Containers[ci].Resources.Requests[res]; g.Cmp(q) != 0 {
					t.Errorf("pod %d: request %s changed from %s to %s", i, res, q.String(), g.String())
				}
			}
			for res, q := range ctr.Resources.Limits {
				if g := got.Spec.Containers[ci].Resources.Limits[res]; g.Cmp(q) != 0 {
					t.Errorf("pod %d: limit %s changed from %s to %s", i, res, q.String(), g.String())
				}
			}
		}
		if _, n, _ := apply(t, c, got, mc); n != 0 {
			failures++
			if failures <= 5 {
				t.Errorf("pod %d: the second run patched %d operations", i, n)
			}
		}
	}
	if failures > 0 {
		t.Fatalf("%d of %d pods were not idempotent", failures, *propertyPods)
	}
}
