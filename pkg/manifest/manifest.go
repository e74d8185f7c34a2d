// Package manifest reads Kubernetes manifests the way kubectl does: YAML or
// JSON files, multi-document YAML, List kinds, directories and stdin. Every
// error names the file and the document number.
package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Object is one object read from a manifest.
type Object struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
	// Raw is the object as JSON.
	Raw []byte
	// Source names where it came from: file#document (and [item] for Lists).
	Source string
	// Labels and Annotations of the object (Namespace and StorageClass
	// context).
	Labels      map[string]string
	Annotations map[string]string
}

// Error is unreadable input, naming the file and document.
type Error struct {
	Source string
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %v", e.Source, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Stdin is the path that names standard input.
const Stdin = "-"

// ReadPaths reads every path: a file, a directory (recursively, .yaml, .yml
// and .json files in lexical order) or "-" for stdin.
func ReadPaths(paths []string, stdin io.Reader) ([]Object, error) {
	var out []Object
	for _, p := range paths {
		if p == Stdin {
			objs, err := Read("<stdin>", stdin)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
			continue
		}
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			objs, err := ReadFile(f)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
	}
	return out, nil
}

func expand(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, &Error{Source: p, Err: errors.Unwrap(err)}
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return &Error{Source: f, Err: err}
		}
		switch strings.ToLower(filepath.Ext(f)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, f)
			}
		}
		return nil
	})
	sort.Strings(files)
	if err == nil && len(files) == 0 {
		err = &Error{Source: p, Err: errors.New("directory has no .yaml, .yml or .json file")}
	}
	return files, err
}

// ReadFile reads one manifest file.
func ReadFile(path string) ([]Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Source: path, Err: errors.Unwrap(err)}
	}
	defer f.Close()
	return Read(path, f)
}

// Read reads the documents of one stream called name.
func Read(name string, r io.Reader) ([]Object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var out []Object
	for doc := 1; ; doc++ {
		data, err := reader.Read()
		if err == io.EOF {
			return out, nil
		}
		src := fmt.Sprintf("%s#%d", name, doc)
		if err != nil {
			return nil, &Error{Source: src, Err: err}
		}
		if len(bytes.TrimSpace(stripComments(data))) == 0 {
			doc-- // an empty document (comments, "---" at the start) is not counted
			continue
		}
		objs, err := decode(data, src)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
}

func decode(data []byte, src string) ([]Object, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, &Error{Source: src, Err: fmt.Errorf("not valid YAML: %w", err)}
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name         string            `json:"name"`
			GenerateName string            `json:"generateName"`
			Namespace    string            `json:"namespace"`
			Labels       map[string]string `json:"labels"`
			Annotations  map[string]string `json:"annotations"`
		} `json:"metadata"`
		// Items is decoded as a list only for a List kind: other kinds may
		// have an items field of any type.
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return nil, &Error{Source: src, Err: fmt.Errorf("not a Kubernetes object: %w", err)}
	}
	if head.APIVersion == "" || head.Kind == "" {
		return nil, &Error{Source: src, Err: errors.New("not a Kubernetes object: apiVersion and kind are required")}
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		return nil, &Error{Source: src, Err: fmt.Errorf("apiVersion: %w", err)}
	}
	if gv.Version == "" { // ParseGroupVersion accepts "apps/" and "/"
		return nil, &Error{Source: src, Err: fmt.Errorf("apiVersion: %q has no version", head.APIVersion)}
	}
	var items []jsonRaw
	if strings.HasSuffix(head.Kind, "List") && json.Unmarshal(head.Items, &items) == nil && items != nil {
		var out []Object
		for i, it := range items {
			objs, err := decode(it, fmt.Sprintf("%s[%d]", src, i))
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	name := head.Metadata.Name
	if name == "" {
		name = head.Metadata.GenerateName
	}
	return []Object{{
		GVK:         gv.WithKind(head.Kind),
		Namespace:   head.Metadata.Namespace,
		Name:        name,
		Raw:         js,
		Source:      src,
		Labels:      head.Metadata.Labels,
		Annotations: head.Metadata.Annotations,
	}}, nil
}

// jsonRaw keeps a List item as raw JSON.
type jsonRaw []byte

func (j *jsonRaw) UnmarshalJSON(b []byte) error {
	*j = append((*j)[:0], b...)
	return nil
}

func stripComments(data []byte) []byte {
	var b bytes.Buffer
	for _, line := range bytes.Split(data, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || isSeparator(t) {
			continue
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// isSeparator reports whether trimmed line t is a document separator, "---"
// alone or followed by a comment.
func isSeparator(t []byte) bool {
	rest, ok := bytes.CutPrefix(t, []byte("---"))
	if !ok {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#'
}
