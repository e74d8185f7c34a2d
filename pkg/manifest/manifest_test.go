package manifest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/microguard/microguard/pkg/manifest"
)

// want is the expected part of one Object; Raw is checked separately.
type want struct {
	source    string
	gvk       schema.GroupVersionKind
	namespace string
	name      string
	labels    map[string]string
}

func gvk(group, version, kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: group, Version: version, Kind: kind}
}

// checkObjects compares objs with ws and checks that each Raw is valid JSON
// naming the same kind and name.
func checkObjects(t *testing.T, objs []manifest.Object, ws []want) {
	t.Helper()
	if len(objs) != len(ws) {
		var got []string
		for _, o := range objs {
			got = append(got, o.Source+" "+o.GVK.String()+" "+o.Name)
		}
		t.Fatalf("got %d objects %q, want %d", len(objs), got, len(ws))
	}
	for i, w := range ws {
		o := objs[i]
		if o.Source != w.source {
			t.Errorf("[%d] Source = %q, want %q", i, o.Source, w.source)
		}
		if o.GVK != w.gvk {
			t.Errorf("[%d] GVK = %#v, want %#v", i, o.GVK, w.gvk)
		}
		if o.Namespace != w.namespace {
			t.Errorf("[%d] Namespace = %q, want %q", i, o.Namespace, w.namespace)
		}
		if o.Name != w.name {
			t.Errorf("[%d] Name = %q, want %q", i, o.Name, w.name)
		}
		if !reflect.DeepEqual(o.Labels, w.labels) {
			t.Errorf("[%d] Labels = %#v, want %#v", i, o.Labels, w.labels)
		}
		if !json.Valid(o.Raw) {
			t.Errorf("[%d] Raw is not valid JSON: %s", i, o.Raw)
			continue
		}
		var raw struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(o.Raw, &raw); err != nil {
			t.Errorf("[%d] Raw %s: %v", i, o.Raw, err)
		}
		if raw.Kind != w.gvk.Kind {
			t.Errorf("[%d] Raw kind = %q, want %q", i, raw.Kind, w.gvk.Kind)
		}
	}
}

const multiDoc = `---
# The namespace first.
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels:
    owner: alice
    cost-center: "42"
---
# a document of comments only
# is not counted
---
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: team-a
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  generateName: deny-
  namespace: team-a
spec: {}
---
`

func TestReadMultiDocument(t *testing.T) {
	objs, err := manifest.Read("app.yaml", strings.NewReader(multiDoc))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	checkObjects(t, objs, []want{
		{"app.yaml#1", gvk("", "v1", "Namespace"), "", "team-a", map[string]string{"owner": "alice", "cost-center": "42"}},
		{"app.yaml#2", gvk("apps", "v1", "Deployment"), "team-a", "web", nil},
		{"app.yaml#3", gvk("networking.k8s.io", "v1", "NetworkPolicy"), "team-a", "deny-", nil},
	})
	// Raw is the whole object, as JSON.
	var dep struct {
		Spec struct {
			Replicas int `json:"replicas"`
			Template struct {
				Spec struct {
					Containers []struct {
						Image string `json:"image"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(objs[1].Raw, &dep); err != nil {
		t.Fatal(err)
	}
	if dep.Spec.Replicas != 2 || len(dep.Spec.Template.Spec.Containers) != 1 || dep.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" {
		t.Errorf("Raw = %s, want the whole Deployment", objs[1].Raw)
	}
	// Labels that look like numbers stay strings.
	var ns map[string]any
	if err := json.Unmarshal(objs[0].Raw, &ns); err != nil {
		t.Fatal(err)
	}
	if got := ns["metadata"].(map[string]any)["labels"].(map[string]any)["cost-center"]; got != "42" {
		t.Errorf("Raw cost-center label = %#v, want \"42\"", got)
	}
}

func TestRead(t *testing.T) {
	ns := func(source, name string) want {
		return want{source: source, gvk: gvk("", "v1", "Namespace"), name: name}
	}
	for _, tc := range []struct {
		name string
		in   string
		want []want
	}{
		{"empty input", "", nil},
		{"whitespace only", "\n   \n\n", nil},
		{"comments only", "# nothing\n# here\n", nil},
		{"separators only", "---\n---\n---\n", nil},
		{"separators with comments only", "--- # first\n# more\n--- # second\n", nil},
		{"single document without separator", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n", []want{ns("m#1", "a")}},
		{"no trailing newline", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}", []want{ns("m#1", "a")}},
		{"leading separator", "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n", []want{ns("m#1", "a")}},
		{"separator with a comment before a document", "--- # a\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n", []want{ns("m#1", "a")}},
		{"empty documents are not counted",
			"---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n# c\n---\n\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
			[]want{ns("m#1", "a"), ns("m#2", "b")}},
		{"comment-only document after a separator with a comment",
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n--- # generated\n--- # next\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
			[]want{ns("m#1", "a"), ns("m#2", "b")}},
		{"trailing separator", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n", []want{ns("m#1", "a")}},
		{"CRLF line endings", "---\r\napiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: a\r\n---\r\napiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: b\r\n", []want{ns("m#1", "a"), ns("m#2", "b")}},
		{"no metadata", "apiVersion: v1\nkind: Namespace\n", []want{ns("m#1", "")}},
		{"generateName when name is empty", "apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: job-\n  namespace: ci\n",
			[]want{{"m#1", gvk("", "v1", "Pod"), "ci", "job-", nil}}},
		{"name preferred over generateName", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: job-1\n  generateName: job-\n",
			[]want{{"m#1", gvk("", "v1", "Pod"), "", "job-1", nil}}},
		{"labels", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    app: web\n    version: \"2\"\n",
			[]want{{"m#1", gvk("", "v1", "Pod"), "", "p", map[string]string{"app": "web", "version": "2"}}}},
		{"empty labels", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {}\n",
			[]want{{"m#1", gvk("", "v1", "Pod"), "", "p", map[string]string{}}}},
		{"group version", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n",
			[]want{{"m#1", gvk("rbac.authorization.k8s.io", "v1", "ClusterRole"), "", "r", nil}}},
		{"custom resource", "apiVersion: example.com/v1beta2\nkind: Widget\nmetadata: {name: w, namespace: x}\nspec: {size: 3}\n",
			[]want{{"m#1", gvk("example.com", "v1beta2", "Widget"), "x", "w", nil}}},
		{"JSON", `{
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
  "spec": {"replicas": 1}
}
`, []want{{"m#1", gvk("apps", "v1", "Deployment"), "shop", "web", map[string]string{"app": "web"}}}},
		{"JSON on one line", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"v"}}`,
			[]want{{"m#1", gvk("", "v1", "ConfigMap"), "", "c", nil}}},
		{"JSON List", `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}
]}`, []want{ns("m#1[0]", "a"), ns("m#1[1]", "b")}},
		{"YAML List in the second document",
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p, namespace: a}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {generateName: d-, namespace: a}\n",
			[]want{ns("m#1", "a"), {"m#2[0]", gvk("", "v1", "Pod"), "a", "p", nil}, {"m#2[1]", gvk("apps", "v1", "Deployment"), "a", "d-", nil}}},
		{"typed List kind", "apiVersion: v1\nkind: ConfigMapList\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n",
			[]want{{"m#1[0]", gvk("", "v1", "ConfigMap"), "", "c", nil}}},
		{"empty List", "apiVersion: v1\nkind: List\nitems: []\n", nil},
		{"List with empty items then an object",
			"apiVersion: v1\nkind: List\nitems: []\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
			[]want{ns("m#2", "a")}},
		{"nested List", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n- apiVersion: v1\n  kind: List\n  items:\n  - {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n  - {apiVersion: v1, kind: Namespace, metadata: {name: c}}\n",
			[]want{ns("m#1[0]", "a"), ns("m#1[1][0]", "b"), ns("m#1[1][1]", "c")}},
		{"List without items is an object", "apiVersion: v1\nkind: List\nmetadata: {name: l}\n",
			[]want{{"m#1", gvk("", "v1", "List"), "", "l", nil}}},
		{"non-List kind with an items list", "apiVersion: example.com/v1\nkind: Basket\nmetadata: {name: b}\nitems: [apple, pear]\n",
			[]want{{"m#1", gvk("example.com", "v1", "Basket"), "", "b", nil}}},
		{"non-List kind with items that are not a list", "apiVersion: example.com/v1\nkind: Basket\nmetadata: {name: b}\nitems: {apple: 1}\n",
			[]want{{"m#1", gvk("example.com", "v1", "Basket"), "", "b", nil}}},
		{"List kind with items that are not a list", "apiVersion: example.com/v1\nkind: AllowList\nmetadata: {name: l}\nitems: all\n",
			[]want{{"m#1", gvk("example.com", "v1", "AllowList"), "", "l", nil}}},
		{"YAML anchors", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: &l {app: web}\n  annotations: *l\n",
			[]want{{"m#1", gvk("", "v1", "Pod"), "", "p", map[string]string{"app": "web"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := manifest.Read("m", strings.NewReader(tc.in))
			if err != nil {
				t.Fatalf("Read(%q): %v", tc.in, err)
			}
			checkObjects(t, objs, tc.want)
		})
	}
}

func TestReadErrors(t *testing.T) {
	const ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"
	for _, tc := range []struct {
		name   string
		in     string
		source string
		msg    []string
	}{
		{"invalid YAML in the second document", ns + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: [p\n",
			"m#2", []string{"not valid YAML"}},
		{"invalid YAML after empty documents", "---\n# c\n---\n" + ns + "---\n---\nkind: Pod\n  bad: indent\n",
			"m#2", []string{"not valid YAML"}},
		{"tab indentation", "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: p\n",
			"m#1", []string{"not valid YAML"}},
		{"no apiVersion", "kind: Namespace\nmetadata: {name: a}\n",
			"m#1", []string{"apiVersion and kind are required"}},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n",
			"m#1", []string{"apiVersion and kind are required"}},
		{"neither", "metadata: {name: a}\n",
			"m#1", []string{"apiVersion and kind are required"}},
		{"empty apiVersion", "apiVersion: \"\"\nkind: Namespace\n",
			"m#1", []string{"apiVersion and kind are required"}},
		{"a plain string", "hello\n",
			"m#1", []string{"not a Kubernetes object"}},
		{"a list", "- apiVersion: v1\n  kind: Namespace\n",
			"m#1", []string{"not a Kubernetes object"}},
		{"kind not a string", "apiVersion: v1\nkind: [Namespace]\n",
			"m#1", []string{"not a Kubernetes object"}},
		{"bad apiVersion", "apiVersion: a/b/c\nkind: Widget\n",
			"m#1", []string{"apiVersion", "a/b/c"}},
		{"apiVersion without a version", "apiVersion: apps/\nkind: Deployment\n",
			"m#1", []string{"apiVersion", "apps/"}},
		{"apiVersion a slash", "apiVersion: /\nkind: Deployment\n",
			"m#1", []string{"apiVersion"}},
		{"bad apiVersion in the third document", ns + "---\n" + ns + "---\napiVersion: x/y/z\nkind: W\n",
			"m#3", []string{"apiVersion"}},
		// The reader fails at the separator that would end document 1.
		{"bad separator", ns + "--- nonsense\n" + ns,
			"m#1", []string{"separator"}},
		{"bad List item", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace}\n- {kind: Namespace}\n",
			"m#1[1]", []string{"apiVersion and kind are required"}},
		{"List item not an object", "apiVersion: v1\nkind: List\nitems: [a]\n",
			"m#1[0]", []string{"not a Kubernetes object"}},
		{"bad nested List item", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - {apiVersion: a/b/c, kind: X}\n",
			"m#1[0][0]", []string{"apiVersion"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := manifest.Read("m", strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("Read(%q) = %d objects, want an error", tc.in, len(objs))
			}
			if objs != nil {
				t.Errorf("Read returned objects with its error: %v", objs)
			}
			var e *manifest.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *manifest.Error", err, err)
			}
			if e.Source != tc.source {
				t.Errorf("Source = %q, want %q (error: %v)", e.Source, tc.source, err)
			}
			if e.Err == nil {
				t.Fatalf("Err is nil")
			}
			if !strings.HasPrefix(err.Error(), tc.source+": ") {
				t.Errorf("Error() = %q, want prefix %q", err, tc.source+": ")
			}
			for _, m := range tc.msg {
				if !strings.Contains(e.Err.Error(), m) {
					t.Errorf("Err = %q, want it to contain %q", e.Err, m)
				}
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	inner := errors.New("boom")
	e := &manifest.Error{Source: "a.yaml#2[1]", Err: inner}
	if got, want := e.Error(), "a.yaml#2[1]: boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, inner) {
		t.Error("errors.Is does not see the wrapped error")
	}
	if errors.Unwrap(e) != inner {
		t.Error("Unwrap does not return Err")
	}
}

// errReader fails after returning its data.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadReaderError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := manifest.Read("m", &errReader{data: []byte("apiVersion: v1\nkind: Namespace\n---\napiVersion: v1\n"), err: boom})
	var e *manifest.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *manifest.Error", err)
	}
	if !errors.Is(err, boom) {
		t.Errorf("error %v does not wrap the reader's error", err)
	}
	if e.Source != "m#2" {
		t.Errorf("Source = %q, want m#2", e.Source)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func nsDoc(name string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n"
}

func TestReadPathsDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "b.yaml"), nsDoc("b1")+"---\n"+nsDoc("b2"))
	write(t, filepath.Join(dir, "a.json"), `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}`)
	write(t, filepath.Join(dir, "notes.txt"), "this is not YAML: [\n")
	write(t, filepath.Join(dir, "README"), "kind: [\n")
	write(t, filepath.Join(dir, "sub", "c.yml"), nsDoc("c"))
	write(t, filepath.Join(dir, "sub", "deeper", "d.YAML"), nsDoc("d"))
	write(t, filepath.Join(dir, "sub", "deeper", "e.yaml.bak"), "kind: [\n")
	// A directory whose name looks like a manifest is walked, not read.
	write(t, filepath.Join(dir, "config.json", "f.yaml"), nsDoc("f"))
	write(t, filepath.Join(dir, "z.yaml"), "# nothing but a comment\n")

	objs, err := manifest.ReadPaths([]string{dir}, nil)
	if err != nil {
		t.Fatalf("ReadPaths: %v", err)
	}
	j := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }
	checkObjects(t, objs, []want{
		{j("a.json") + "#1", gvk("", "v1", "Namespace"), "", "a", nil},
		{j("b.yaml") + "#1", gvk("", "v1", "Namespace"), "", "b1", nil},
		{j("b.yaml") + "#2", gvk("", "v1", "Namespace"), "", "b2", nil},
		{j("config.json", "f.yaml") + "#1", gvk("", "v1", "Namespace"), "", "f", nil},
		{j("sub", "c.yml") + "#1", gvk("", "v1", "Namespace"), "", "c", nil},
		{j("sub", "deeper", "d.YAML") + "#1", gvk("", "v1", "Namespace"), "", "d", nil},
	})
}

func TestReadPathsOrderAndStdin(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "one.yaml")
	write(t, file, nsDoc("file"))
	sub := filepath.Join(dir, "sub")
	write(t, filepath.Join(sub, "two.json"), `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dir"}}`)
	stdin := strings.NewReader(nsDoc("in1") + "---\n" + nsDoc("in2"))

	objs, err := manifest.ReadPaths([]string{sub, "-", file}, stdin)
	if err != nil {
		t.Fatalf("ReadPaths: %v", err)
	}
	n := gvk("", "v1", "Namespace")
	checkObjects(t, objs, []want{
		{filepath.Join(sub, "two.json") + "#1", n, "", "dir", nil},
		{"<stdin>#1", n, "", "in1", nil},
		{"<stdin>#2", n, "", "in2", nil},
		{file + "#1", n, "", "file", nil},
	})
}

func TestReadPathsStdin(t *testing.T) {
	objs, err := manifest.ReadPaths([]string{manifest.Stdin}, strings.NewReader(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n"}}`))
	if err != nil {
		t.Fatalf("ReadPaths: %v", err)
	}
	checkObjects(t, objs, []want{{"<stdin>#1", gvk("", "v1", "Pod"), "n", "p", nil}})

	_, err = manifest.ReadPaths([]string{"-"}, strings.NewReader("apiVersion: v1\n"))
	var e *manifest.Error
	if !errors.As(err, &e) || e.Source != "<stdin>#1" {
		t.Errorf("error = %v, want a *manifest.Error from <stdin>#1", err)
	}
}

func TestReadPathsNone(t *testing.T) {
	objs, err := manifest.ReadPaths(nil, nil)
	if err != nil || len(objs) != 0 {
		t.Errorf("ReadPaths(nil) = %v, %v; want nothing", objs, err)
	}
}

func TestReadPathsErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	textOnly := filepath.Join(dir, "text")
	write(t, filepath.Join(textOnly, "notes.txt"), nsDoc("a"))
	withBad := filepath.Join(dir, "withbad")
	write(t, filepath.Join(withBad, "a.yaml"), nsDoc("a"))
	write(t, filepath.Join(withBad, "b.yaml"), nsDoc("b")+"---\nkind: Namespace\n")
	good := filepath.Join(dir, "good.yaml")
	write(t, good, nsDoc("g"))

	for _, tc := range []struct {
		name     string
		paths    []string
		source   string
		notExist bool
		msg      string
	}{
		{"missing file", []string{missing}, missing, true, ""},
		{"missing file after a good one", []string{good, missing}, missing, true, ""},
		{"empty directory", []string{empty}, empty, false, "directory has no .yaml, .yml or .json file"},
		{"directory of other files", []string{textOnly}, textOnly, false, "directory has no .yaml, .yml or .json file"},
		{"bad document in a directory", []string{withBad}, filepath.Join(withBad, "b.yaml") + "#2", false, "apiVersion and kind are required"},
		{"bad stdin", []string{good, "-"}, "<stdin>#1", false, "not valid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := manifest.ReadPaths(tc.paths, strings.NewReader("a: [\n"))
			if err == nil {
				t.Fatalf("ReadPaths(%q) = %d objects, want an error", tc.paths, len(objs))
			}
			if objs != nil {
				t.Errorf("ReadPaths returned objects with its error: %v", objs)
			}
			var e *manifest.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *manifest.Error", err, err)
			}
			if e.Source != tc.source {
				t.Errorf("Source = %q, want %q", e.Source, tc.source)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tc.notExist {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = %v, want %v", err, got, tc.notExist)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), tc.source+": ") {
				t.Errorf("Error() = %q does not start with the source", err)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	objs, err := manifest.ReadFile(filepath.Join("testdata", "mixed.yaml"))
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	src := filepath.Join("testdata", "mixed.yaml")
	checkObjects(t, objs, []want{
		{src + "#1", gvk("", "v1", "Namespace"), "", "shop", map[string]string{"owner": "alice"}},
		{src + "#2[0]", gvk("", "v1", "ConfigMap"), "shop", "settings", nil},
		{src + "#2[1]", gvk("apps", "v1", "Deployment"), "shop", "web", map[string]string{"app": "web"}},
		{src + "#3", gvk("batch", "v1", "Job"), "shop", "migrate-", nil},
	})

	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, err = manifest.ReadFile(missing)
	var e *manifest.Error
	if !errors.As(err, &e) || e.Source != missing || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) error = %v, want a *manifest.Error for %s wrapping fs.ErrNotExist", err, missing)
	}

	// Reading a directory as a file fails with the file as its source.
	dir := t.TempDir()
	_, err = manifest.ReadFile(dir)
	if !errors.As(err, &e) || e.Source != dir+"#1" {
		t.Errorf("ReadFile(dir) error = %v, want a *manifest.Error from %s#1", err, dir)
	}
}

// TestReadLongLine checks that a document with a line longer than any buffer
// is read whole.
func TestReadLongLine(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  blob: " + long + "\n"
	objs, err := manifest.Read("m", bytes.NewReader([]byte(in)))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	checkObjects(t, objs, []want{{"m#1", gvk("", "v1", "ConfigMap"), "", "big", nil}})
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(objs[0].Raw, &cm); err != nil || cm.Data["blob"] != long {
		t.Errorf("long value not kept whole (len %d, err %v)", len(cm.Data["blob"]), err)
	}
}
