package mutate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	evanjsonpatch "github.com/evanphx/json-patch/v5"
	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/microguard/microguard/pkg/config"
)

// decodePod decodes raw as the admission package does for a Pod request.
func decodePod(raw []byte) (*corev1.Pod, error) {
	var v any
	if err := utiljson.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	p := &corev1.Pod{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, p); err != nil {
		return nil, err
	}
	return p, nil
}

// mutated is pod after the chain, as Apply computes it.
func mutated(tb testing.TB, c *Chain, pod *corev1.Pod, mc Context) *corev1.Pod {
	tb.Helper()
	out := pod.DeepCopy()
	var applied []string
	for _, n := range c.mutators {
		changed, err := n.m.Mutate(out, mc)
		if err != nil {
			tb.Fatal(err)
		}
		if changed {
			applied = append(applied, n.id)
		}
	}
	if len(applied) > 0 {
		record(out, applied)
	}
	return out
}

// applyRaw applies ops to raw as the API server does: no parent is created.
func applyRaw(raw []byte, ops []jsonpatch.Operation) ([]byte, error) {
	if len(ops) == 0 {
		return raw, nil
	}
	data, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	patch, err := evanjsonpatch.DecodePatch(data)
	if err != nil {
		return nil, err
	}
	return patch.Apply(raw)
}

// checkApply runs Apply on raw and checks the contract: the patch applies
// to raw, the result decodes to the mutated typed pod, the patch is sorted
// when it only adds and replaces, and a second run patches nothing. It
// returns the patch.
func checkApply(t testing.TB, c *Chain, raw []byte, pod *corev1.Pod, mc Context) []jsonpatch.Operation {
	t.Helper()
	ops, _, err := c.Apply(raw, pod, mc)
	if err != nil {
		t.Fatalf("Apply: %v\nraw %s", err, raw)
	}
	patched, err := applyRaw(raw, ops)
	if err != nil {
		t.Fatalf("patch does not apply: %v\nraw   %s\npatch %s", err, raw, mustMarshal(t, ops))
	}
	got, err := decodePod(patched)
	if err != nil {
		t.Fatalf("patched pod does not decode: %v\n%s", err, patched)
	}
	want := mutated(t, c, pod, mc)
	if g, w := mustMarshal(t, got), mustMarshal(t, want); !bytes.Equal(g, w) {
		t.Fatalf("patched pod differs from the mutated pod\nraw   %s\npatch %s\ngot   %s\nwant  %s", raw, mustMarshal(t, ops), g, w)
	}
	if !slices.ContainsFunc(ops, func(op jsonpatch.Operation) bool { return op.Operation == "remove" }) &&
		!slices.IsSortedFunc(ops, func(a, b jsonpatch.Operation) int { return comparePointers(a.Path, b.Path) }) {
		t.Fatalf("patch not sorted: %s", mustMarshal(t, ops))
	}
	if again, _, err := c.Apply(patched, got, mc); err != nil || len(again) != 0 {
		t.Fatalf("second run: %v, %s", err, mustMarshal(t, again))
	}
	return ops
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// TestApplyRawShapes: the same pod submitted in the shapes a client or the
// API server may send: parents missing, null or empty, fields the typed
// pod drops, values spelled differently, keys escaped, whitespace.
func TestApplyRawShapes(t *testing.T) {
	c := defaultChain(t)
	for name, raw := range map[string]string{
		"minimal":            `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"registry.example/proxy:2.0"}]}}`,
		"no metadata":        `{"spec":{"containers":[{"name":"a","image":"x"}]}}`,
		"no spec":            `{"metadata":{"name":"p"}}`,
		"empty object":       `{}`,
		"labels null":        `{"metadata":{"name":"p","labels":null,"annotations":null},"spec":{"containers":[{"name":"a","image":"x","env":null,"resources":null}]}}`,
		"labels empty":       `{"metadata":{"name":"p","labels":{},"annotations":{}},"spec":{"containers":[{"name":"a","image":"x","env":[],"resources":{}}]}}`,
		"requests empty":     `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x","resources":{"requests":{},"limits":null}}]}}`,
		"typed encoding":     string(mustMarshal(t, pod(nil))),
		"unknown fields":     `{"metadata":{"name":"p","labels":{"owner":"bob"},"x-extra":1},"spec":{"containers":[{"name":"a","image":"x","resources":{"x-claims":[1],"limits":{"cpu":"1"}},"x-unknown":{"a":[1,2]}}]},"status":{"phase":"Pending"}}`,
		"quantities spelled": `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x","resources":{"limits":{"cpu":"0.5","memory":"1e3"}}}]}}`,
		"escaped keys":       `{"metadata":{"name":"p","labels":{"\u006fwner":"bob"},"annotations":{"a\/b":"x","microguard.io\u002fmutations":"cost-tags"}},"spec":{"containers":[{"name":"a","image":"x"}]}}`,
		"html in values":     `{"metadata":{"name":"p","annotations":{"note":"<b>&amp;</b>"}},"spec":{"containers":[{"name":"a","image":"x","env":[{"name":"X","value":"a<b>&c"}]}]}}`,
		"whitespace":         "{ \"metadata\" : { \"name\" : \"p\" , \"labels\" : { } } ,\n\t\"spec\" : { \"containers\" : [ { \"name\" : \"a\" , \"image\" : \"x\" } ] } }\n",
		"duplicate keys":     `{"metadata":{"name":"p","labels":{"owner":"x"},"labels":{"team":"y"}},"spec":{"containers":[{"name":"a","image":"x","resources":{"limits":{"cpu":"1"}},"resources":{}}]}}`,
		"null container":     `{"metadata":{"name":"p"},"spec":{"containers":[null,{"name":"b","image":"x"}]}}`,
		"many env":           `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x","env":[{"name":"A"},{"name":"B"},{"name":"C"},{"name":"D"},{"name":"E"},{"name":"F"},{"name":"G"},{"name":"H"}]}]}}`,
		"opted out":          `{"metadata":{"name":"p","annotations":{"microguard.io/inject-otel":"false"}},"spec":{"containers":[{"name":"a","image":"x"}]}}`,
		"typical":            string(rawPod(t, typicalPod())),
		"typical full":       string(mustMarshal(t, typicalPod())),
	} {
		t.Run(name, func(t *testing.T) {
			p, err := decodePod([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			checkApply(t, c, []byte(raw), p, benchContext)
		})
	}
}

// TestApplyAppendsManyEnvVars: a container with six or more variables gets
// the OpenTelemetry ones at indices from 10 on, which must come after 9 in
// the patch (sorting paths as strings put /env/10 first: the patch did not
// apply).
func TestApplyAppendsManyEnvVars(t *testing.T) {
	c := chain(t, map[string]config.Mutation{"opentelemetry": {Enabled: true}})
	for n := range 12 {
		p := pod(nil)
		for i := range n {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: fmt.Sprint("V", i), Value: "x"})
		}
		checkApply(t, c, rawPod(t, p), p, Context{})
	}
}

func TestComparePointers(t *testing.T) {
	want := []string{"", "/a", "/a/2", "/a/9", "/a/10", "/a/b", "/a/b/0", "/b", "/b~1c", "/c/01", "/c/x"}
	got := slices.Clone(want)
	rand.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
	slices.SortFunc(got, comparePointers)
	if !slices.Equal(got, want) {
		t.Fatalf("sorted %v, want %v", got, want)
	}
}

// TestApplyMatchesReference: on generated pods, submitted pruned (as a
// client sends them) and as their typed encoding, the patch is the one the
// first implementation (reference_test.go) gave, and so is Missing. The
// reference is slow: a quarter of -mutate.pods.
func TestApplyMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(*propertySeed, 11))
	cfg := config.Default(config.Schema{Mutations: Schema()})
	c, err := NewChain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nsLabels := []map[string]string{nil, {"owner": "ana"}, {"owner": "ana", "team": "food", "cost-center": "cc", "env": "prod", "other": "x"}}
	for i := range max(*propertyPods/4, 1) {
		p := randomPod(r)
		if r.IntN(3) == 0 {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "OTEL_SERVICE_NAME", Value: "x"}, {Name: "LOG", Value: "debug"}}
		}
		mc := Context{Namespace: "shop", NamespaceLabels: nsLabels[r.IntN(len(nsLabels))]}
		if r.IntN(2) == 0 {
			mc.Digests = map[string]string{"img": "img@sha256:" + digest("d")}
		}
		for _, raw := range [][]byte{rawPod(t, p), mustMarshal(t, p)} {
			got, gotApplied, err := c.Apply(raw, p, mc)
			if err != nil {
				t.Fatal(err)
			}
			want, wantApplied, err := referenceApply(c, raw, p, mc)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(gotApplied, wantApplied) || !sameOps(got, want) {
				t.Fatalf("pod %d: patch\n%s\napplied %v; the reference gives\n%s\napplied %v", i, mustMarshal(t, got), gotApplied, mustMarshal(t, want), wantApplied)
			}
		}
		for _, q := range []*corev1.Pod{p, mutated(t, c, p, mc)} {
			got, err := c.Missing(q, mc)
			if err != nil {
				t.Fatal(err)
			}
			want, err := referenceMissing(c, q, mc)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("pod %d: Missing %v, the reference gives %v", i, got, want)
			}
		}
	}
}

// sameOps compares two patches operation by operation, values as JSON.
func sameOps(a, b []jsonpatch.Operation) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Operation != b[i].Operation || a[i].Path != b[i].Path || !sameJSON(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func sameJSON(a, b any) bool {
	var x, y any
	da, errA := json.Marshal(a)
	db, errB := json.Marshal(b)
	if errA != nil || errB != nil || json.Unmarshal(da, &x) != nil || json.Unmarshal(db, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// TestMissingPaths: the first field each mutation would change, for a pod
// that lacks them all, for one that has them all, and for one that lacks
// only a later mutation.
func TestMissingPaths(t *testing.T) {
	c := defaultChain(t)
	p := typicalPod()
	got, err := c.Missing(p, benchContext)
	if err != nil {
		t.Fatal(err)
	}
	want := []Missing{
		{"cost-tags", "/metadata/labels/cost-center"},
		{"default-resources", "/spec/containers/0/resources/limits"},
		{"opentelemetry", "/spec/containers/0/env/2"},
		{"pin-digests", "/spec/containers/0/image"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Missing %v, want %v", got, want)
	}
	done := mutated(t, c, p, benchContext)
	if got, err := c.Missing(done, benchContext); err != nil || len(got) != 0 {
		t.Fatalf("mutated pod: Missing %v, %v", got, err)
	}
	done.Spec.InitContainers[0].Image = "registry.example/shop/migrate:1.4"
	if got, err := c.Missing(done, benchContext); err != nil || !slices.Equal(got, []Missing{{"pin-digests", "/spec/initContainers/0/image"}}) {
		t.Fatalf("unpinned init container: Missing %v, %v", got, err)
	}
}

// TestDiffOntoRefusesBadRaw: a submitted object that is not a JSON object
// is an error, not a patch.
func TestDiffOntoRefusesBadRaw(t *testing.T) {
	before, after := []byte(`{"a":1}`), []byte(`{"a":2}`)
	for _, raw := range []string{``, ` `, `[]`, `null`, `"x"`, `{"a":1`, `{"a":1}x`, `{"a" 1}`, `{"a":1,}`, `{"a":[1,]}`, `{"a":{]}`,
		`{"a":[}`, `{"a",1}`, `{"a":1 "b":2}`, `{"a":}`, `{:1}`, `{"a":"x}`, `{"a":[1 2]}`, `{"a":{"b":1}}}`} {
		if _, err := diffOnto([]byte(raw), before, after); err == nil {
			t.Errorf("%q: no error", raw)
		}
	}
	ops, err := diffOnto([]byte(` {"a": 1.0, "b": [1]} `), after, before)
	if err != nil || len(ops) != 0 {
		t.Errorf("raw already holds the value, spelled differently: %s, %v", mustMarshal(t, ops), err)
	}
}
