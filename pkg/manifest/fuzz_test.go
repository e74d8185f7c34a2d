package manifest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/microguard/microguard/pkg/manifest"
)

var fuzzSource = regexp.MustCompile(`^fuzz#[1-9][0-9]*(\[[0-9]+\])*$`)

func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		"",
		"# only a comment\n",
		"---\n---\n",
		"--- # c\n",
		multiDoc,
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: {owner: alice}\n",
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: a}\n",
		`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}},{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"q-"}}]}`,
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: [{apiVersion: v1, kind: Pod}]\n",
		"apiVersion: v1\nkind: List\nitems: []\n",
		"apiVersion: v1\nkind: List\nitems: [null, 1, a]\n",
		"apiVersion: x/v1\nkind: AllowList\nitems: all\n",
		"apiVersion: a/b/c\nkind: X\n",
		"apiVersion: apps/\nkind: X\n",
		"apiVersion: /\nkind: X\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: [p\n",
		"apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {a: 1}\n",
		"apiVersion: v1\nkind: Pod\nspec: {x: .inf, y: .nan}\n",
		"apiVersion: v1\nkind: Pod\n? [a, b]\n: c\n",
		"apiVersion: v1\nkind: Pod\nx: &a [*a]\n",
		"apiVersion: v1\nkind: Pod\nx: !!binary aGVsbG8=\n",
		"apiVersion: v1\nkind: Pod\nt: 2001-12-14t21:59:43.10-05:00\n",
		"--- nonsense\n",
		"null\n",
		"hello\n",
		"- a\n- b\n",
		"apiVersion: v1\r\nkind: Pod\r\n---\r\napiVersion: v1\r\nkind: Pod\r\n",
		"\xef\xbb\xbfapiVersion: v1\nkind: Pod\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := manifest.Read("fuzz", bytes.NewReader(data))
		if err != nil {
			if objs != nil {
				t.Fatalf("Read returned %d objects with its error %v", len(objs), err)
			}
			var e *manifest.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *manifest.Error", err, err)
			}
			if !strings.HasPrefix(e.Source, "fuzz#") {
				t.Fatalf("error Source = %q, want fuzz#...", e.Source)
			}
			return
		}
		for i, o := range objs {
			if o.GVK.Kind == "" || o.GVK.Version == "" {
				t.Fatalf("[%d] %s: incomplete GVK %#v", i, o.Source, o.GVK)
			}
			if !fuzzSource.MatchString(o.Source) {
				t.Fatalf("[%d] Source = %q", i, o.Source)
			}
			if !json.Valid(o.Raw) {
				t.Fatalf("[%d] %s: Raw is not valid JSON: %q", i, o.Source, o.Raw)
			}
			var raw struct {
				Kind string `json:"kind"`
			}
			if err := json.Unmarshal(o.Raw, &raw); err != nil || raw.Kind != o.GVK.Kind {
				t.Fatalf("[%d] %s: Raw kind %q (err %v), GVK kind %q", i, o.Source, raw.Kind, err, o.GVK.Kind)
			}
		}
	})
}
