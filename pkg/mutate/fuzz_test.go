package mutate

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
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

// FuzzIndex: index never panics, accepts every valid JSON text, and the
// tree it gives, its leaves decoded one by one, is the value encoding/json
// decodes (the last of duplicate keys kept, as both the decoders and
// findLast do).
func FuzzIndex(f *testing.F) {
	for _, seed := range []string{`{}`, `[]`, `{"a":[1,{"b":null}],"c":"\"}"}`, ` {"a" : [ ] , "a" : { } } `, `[1,]`, `{"a":1}}`, `"x"`, `-1.5e3`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		nodes, err := index(nil, data)
		if !json.Valid(data) || !utf8.Valid(data) {
			// index may accept some invalid texts: it does not check
			// literals or escapes; and encoding/json replaces invalid UTF-8
			// (which no API server sends) where index keeps the bytes.
			return
		}
		if err != nil {
			t.Fatalf("valid JSON refused: %v", err)
		}
		var want any
		if err := json.Unmarshal(data, &want); err != nil {
			return // valid JSON Go cannot hold as a value (a number out of float64's range, 1E700)
		}
		if got := fromNodes(t, nodes, 0); !reflect.DeepEqual(got, want) {
			t.Fatalf("index gives %#v, want %#v", got, want)
		}
	})
}

func fromNodes(t *testing.T, nodes []node, i int32) any {
	n := nodes[i]
	switch n.value[0] {
	case '{':
		out := map[string]any{}
		for k := i + 1; k < n.next; k = nodes[k].next {
			out[unquote(nodes[k].key)] = fromNodes(t, nodes, k)
		}
		return out
	case '[':
		out := []any{}
		for k := i + 1; k < n.next; k = nodes[k].next {
			out = append(out, fromNodes(t, nodes, k))
		}
		if len(out) != int(n.len) {
			t.Fatalf("array of %d elements has len %d", len(out), n.len)
		}
		return out
	}
	var v any
	if err := json.Unmarshal(n.value, &v); err != nil {
		t.Fatalf("leaf %q: %v", n.value, err)
	}
	return v
}
