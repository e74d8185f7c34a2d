package mutate

import (
	"testing"
)

// FuzzApply feeds arbitrary pod JSON through the admission decoding and
// Chain.Apply with every mutator: the patch must apply to the JSON as
// submitted (without creating parents, as the API server applies it) and
// give the mutated typed pod; mutating that again changes nothing; Missing
// finds nothing to add to it.
func FuzzApply(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"registry.example/proxy:2.0"}]}}`,
		`{"metadata":{"labels":null,"annotations":{}},"spec":{"containers":[{"name":"a","resources":null,"env":[]}],"initContainers":[{"name":"i","resources":{"limits":{"cpu":"0.5"}}}]}}`,
		`{"metadata":{"labels":{"owner":"bob","app":"x"},"x":1},"spec":{"containers":[{"name":"a","resources":{"x":[1],"requests":{"memory":"1Gi"}},"env":[{"name":"A"},{"name":"B"},{"name":"C"},{"name":"D"},{"name":"E"},{"name":"F"}]}]}}`,
		`{"metadata":{"annotations":{"a\/b":"\u003c","microguard.io\u002fmutations":"cost-tags,"}},"spec":{"containers":[null]}}`,
		`{"metadata":{"labels":{"env":"a"},"labels":{}},"spec":{"containers":[{"name":"a"}],"containers":[{"name":"b","image":"registry.example/shop/menu:1.4.2"}]}}`,
		"{ \"spec\" : { \"ephemeralContainers\" : [ { \"name\" : \"d\", \"image\" : \"registry.example/proxy:2.0\" } ] } }",
		string(rawPod(f, typicalPod())),
		string(mustMarshal(f, typicalPod())),
	} {
		f.Add([]byte(seed), uint8(0))
	}
	c := defaultChain(f)
	contexts := []Context{benchContext, {}, {Namespace: "x", NamespaceLabels: map[string]string{"team": "t"}}}
	f.Fuzz(func(t *testing.T, raw []byte, which uint8) {
		pod, err := decodePod(raw)
		if err != nil {
			return // the admission decoding refuses it
		}
		mc := contexts[int(which)%len(contexts)]
		checkApply(t, c, raw, pod, mc)
		if m, err := c.Missing(mutated(t, c, pod, mc), mc); err != nil || len(m) != 0 {
			t.Fatalf("mutated pod: Missing %v, %v", m, err)
		}
	})
}
