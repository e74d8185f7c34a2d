package mutate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	evanjsonpatch "github.com/evanphx/json-patch/v5"
	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
)

// The first implementation of Apply and Missing, kept as an oracle for the
// faster one in patch.go: the typed encodings diffed with
// jsonpatch.CreatePatch, then re-based onto raw by applying that patch
// (creating missing parents) and diffing raw against the result.

func referenceApply(c *Chain, raw []byte, pod *corev1.Pod, mc Context) ([]jsonpatch.Operation, []string, error) {
	before, err := json.Marshal(pod)
	if err != nil {
		return nil, nil, err
	}
	out := pod.DeepCopy()
	var applied []string
	for _, n := range c.mutators {
		changed, err := n.m.Mutate(out, mc)
		if err != nil {
			return nil, nil, err
		}
		if changed {
			applied = append(applied, n.id)
		}
	}
	if len(applied) == 0 {
		return nil, nil, nil
	}
	record(out, applied)
	after, err := json.Marshal(out)
	if err != nil {
		return nil, nil, err
	}
	typedOps, err := jsonpatch.CreatePatch(before, after)
	if err != nil {
		return nil, nil, err
	}
	data, err := json.Marshal(typedOps)
	if err != nil {
		return nil, nil, err
	}
	patch, err := evanjsonpatch.DecodePatch(data)
	if err != nil {
		return nil, nil, err
	}
	opts := evanjsonpatch.NewApplyOptions()
	opts.EnsurePathExistsOnAdd = true
	patched, err := patch.ApplyWithOptions(raw, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("applying patch to the submitted pod: %w", err)
	}
	ops, err := jsonpatch.CreatePatch(raw, patched)
	if err != nil {
		return nil, nil, err
	}
	if !slices.ContainsFunc(ops, func(op jsonpatch.Operation) bool { return op.Operation != "add" && op.Operation != "replace" }) {
		slices.SortStableFunc(ops, func(a, b jsonpatch.Operation) int { return strings.Compare(a.Path, b.Path) })
	}
	return ops, applied, nil
}

func referenceMissing(c *Chain, pod *corev1.Pod, mc Context) ([]Missing, error) {
	var before []byte
	var out []Missing
	for _, n := range c.mutators {
		cp := pod.DeepCopy()
		changed, err := n.m.Mutate(cp, mc)
		if err != nil {
			return nil, err
		}
		if !changed {
			continue
		}
		if before == nil {
			if before, err = json.Marshal(pod); err != nil {
				return nil, err
			}
		}
		after, err := json.Marshal(cp)
		if err != nil {
			return nil, err
		}
		ops, err := jsonpatch.CreatePatch(before, after)
		if err != nil || len(ops) == 0 {
			continue
		}
		paths := make([]string, len(ops))
		for i, op := range ops {
			paths[i] = op.Path
		}
		slices.Sort(paths)
		out = append(out, Missing{ID: n.id, Path: paths[0]})
	}
	return out, nil
}
