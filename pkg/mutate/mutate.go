// Package mutate changes pods on admission. Each mutator is one file
// implementing Mutator, registered in Registry; a Chain runs the enabled ones
// in order and computes one RFC 6902 patch at the end.
package mutate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/microguard/microguard/pkg/config"
)

// MutationsAnnotation lists, on every changed pod, the mutators that changed it.
const MutationsAnnotation = "microguard.io/mutations"

// Context is what a mutator knows besides the pod.
type Context struct {
	Namespace       string
	NamespaceLabels map[string]string
	// Digests maps images as written to the same images pinned to a digest,
	// for the images the signature verifier resolved.
	Digests map[string]string
}

// Mutator changes a pod in place and reports whether it changed anything.
// Running it on its own output must change nothing.
type Mutator interface {
	Mutate(pod *corev1.Pod, c Context) (changed bool, err error)
}

// Factory builds a mutator from its validated options.
type Factory struct {
	Spec config.Spec
	New  func(options map[string]any) (Mutator, error)
}

// Registry lists the mutators this release implements, in the order they run.
// Adding a mutator is one file plus one line here.
var Registry = []Factory{
	costTagsFactory,
	defaultResourcesFactory,
	openTelemetryFactory,
	pinDigestsFactory,
}

// Schema is what the configuration may say about the mutators.
func Schema() []config.Spec {
	out := make([]config.Spec, len(Registry))
	for i, f := range Registry {
		out[i] = f.Spec
	}
	return out
}

type named struct {
	id string
	m  Mutator
}

// Chain is the enabled mutators, in registry order.
type Chain struct{ mutators []named }

// NewChain builds the mutators that cfg enables.
func NewChain(cfg *config.Config) (*Chain, error) {
	c := &Chain{}
	for _, f := range Registry {
		mc, ok := cfg.Mutations[f.Spec.ID]
		if !ok || !mc.Enabled {
			continue
		}
		m, err := f.New(mc.Options)
		if err != nil {
			return nil, fmt.Errorf("mutation %s: %w", f.Spec.ID, err)
		}
		c.mutators = append(c.mutators, named{f.Spec.ID, m})
	}
	return c, nil
}

// Len is the number of enabled mutators.
func (c *Chain) Len() int { return len(c.mutators) }

// Apply runs every mutator on a copy of pod, decoded from raw, and returns
// the patch from raw to the result and the ids of the mutators that changed
// it. The changes are found between two encodings of the typed pod (so the
// patch holds only what the mutators changed) and written against raw,
// which may lack parents the typed encoding has (e.g. "resources": {}), so
// that the API server can apply it to the object it holds (see patch.go).
func (c *Chain) Apply(raw []byte, pod *corev1.Pod, mc Context) ([]jsonpatch.Operation, []string, error) {
	if len(c.mutators) == 0 {
		return nil, nil, nil
	}
	out := pod.DeepCopy()
	var applied []string
	for _, n := range c.mutators {
		changed, err := n.m.Mutate(out, mc)
		if err != nil {
			return nil, nil, fmt.Errorf("mutation %s: %w", n.id, err)
		}
		if changed {
			applied = append(applied, n.id)
		}
	}
	if len(applied) == 0 {
		return nil, nil, nil
	}
	record(out, applied)
	before, err := json.Marshal(pod)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding pod: %w", err)
	}
	after, err := json.Marshal(out)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding mutated pod: %w", err)
	}
	ops, err := diffOnto(raw, before, after)
	if err != nil {
		return nil, nil, err
	}
	return ops, applied, nil
}

// record adds the ids to the mutations annotation, keeping earlier ones, so
// anyone can see why a field is there.
func record(pod *corev1.Pod, ids []string) {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	have := strings.Split(pod.Annotations[MutationsAnnotation], ",")
	for _, id := range ids {
		if !slices.Contains(have, id) {
			have = append(have, id)
		}
	}
	have = slices.DeleteFunc(have, func(s string) bool { return s == "" })
	slices.Sort(have)
	pod.Annotations[MutationsAnnotation] = strings.Join(have, ",")
}

// Missing is a mutation a pod lacks: the mutator and the first field it
// would change (a JSON pointer).
type Missing struct {
	ID   string
	Path string
}

// Missing reports the enabled mutators that would change pod, each with the
// first field it would change when run alone, so validation can tell a pod
// the mutating webhook never saw.
func (c *Chain) Missing(pod *corev1.Pod, mc Context) ([]Missing, error) {
	if len(c.mutators) == 0 {
		return nil, nil
	}
	// Usually every mutation is there: the chain run once on one copy
	// changes nothing. A mutator that reports no change has changed
	// nothing, so until one does, each sees the pod as it came, and the
	// first that does has run as if alone.
	cp := pod.DeepCopy()
	first := -1
	for i, n := range c.mutators {
		changed, err := n.m.Mutate(cp, mc)
		if err != nil {
			return nil, fmt.Errorf("mutation %s: %w", n.id, err)
		}
		if changed {
			first = i
			break
		}
	}
	if first < 0 {
		return nil, nil
	}
	before, err := json.Marshal(pod)
	if err != nil {
		return nil, err
	}
	var out []Missing
	for i := first; i < len(c.mutators); i++ {
		n := c.mutators[i]
		if i > first {
			cp = pod.DeepCopy()
			changed, err := n.m.Mutate(cp, mc)
			if err != nil {
				return nil, fmt.Errorf("mutation %s: %w", n.id, err)
			}
			if !changed {
				continue
			}
		}
		after, err := json.Marshal(cp)
		if err != nil {
			return nil, err
		}
		path, err := firstChange(before, after)
		if err != nil {
			return nil, err
		}
		if path != "" {
			out = append(out, Missing{ID: n.id, Path: path})
		}
	}
	return out, nil
}
