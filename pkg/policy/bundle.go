// Package policy is microguard's Rego engine: it loads the policy bundle,
// checks that every policy keeps the violation contract, compiles the bundle
// once and evaluates it once per request.
package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/microguard/microguard/pkg/config"
)

// Info describes one validating policy of the bundle, read from the METADATA
// annotation of its package.
type Info struct {
	ID          string
	Title       string
	Description string
	Package     string // last segment of data.microguard.policies.<Package>
	File        string
	Spec        config.Spec
	// Inline is custom.inline (default true): whether the engine inlines
	// the policy's rules when it partially evaluates the bundle against
	// the config (see NewEngine).
	Inline bool
}

// Bundle is a parsed policy bundle: every module (tests excluded) and the
// policies they declare.
type Bundle struct {
	sources  []Source
	modules  map[string]*ast.Module
	policies []Info
	revision string
}

const policyPrefix = "data.microguard.policies."

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// LoadBundle parses every .rego file of fsys except the _test.rego files and
// refuses a bundle whose policies break the contract: each policy package
// data.microguard.policies.<name> carries a METADATA annotation with a unique
// custom.id, a valid defaultAction and typed options, and defines the
// partial set rule "violation".
func LoadBundle(fsys fs.FS, extra ...Source) (*Bundle, error) {
	b := &Bundle{sources: append([]Source{{FS: fsys}}, extra...), modules: map[string]*ast.Module{}}
	h := sha256.New()
	err := b.walk(false, func(name string, src []byte) error {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(src))
		h.Write(src)
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			return fmt.Errorf("parsing %s: %w", name, err)
		}
		b.modules[name] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading policy bundle: %w", err)
	}
	b.revision = "sha256:" + hex.EncodeToString(h.Sum(nil))
	for _, p := range slices.Sorted(mapsKeys(b.modules)) {
		m := b.modules[p]
		pkg := m.Package.Path.String()
		if pkg == enginePackage || strings.HasPrefix(pkg, enginePackage+".") {
			return nil, fmt.Errorf("policy bundle: %s: package %s is reserved for microguard's query", p, pkg)
		}
		if !strings.HasPrefix(pkg, policyPrefix) {
			continue
		}
		info, err := policyInfo(p, m)
		if err != nil {
			return nil, fmt.Errorf("policy bundle: %s:%d: %w", p, m.Package.Location.Row, err)
		}
		for _, other := range b.policies {
			if other.ID == info.ID {
				return nil, fmt.Errorf("policy bundle: %s: policy id %q is already declared by %s", p, info.ID, other.File)
			}
			if other.Package == info.Package {
				return nil, fmt.Errorf("policy bundle: %s: package %s is already declared by %s; one policy is one package", p, pkg, other.File)
			}
		}
		b.policies = append(b.policies, info)
	}
	if len(b.policies) == 0 {
		return nil, fmt.Errorf("policy bundle: no package under %s", strings.TrimSuffix(policyPrefix, "."))
	}
	return b, nil
}

func policyInfo(file string, m *ast.Module) (Info, error) {
	info := Info{File: file, Package: strings.TrimPrefix(m.Package.Path.String(), policyPrefix)}
	if strings.Contains(info.Package, ".") {
		return info, fmt.Errorf("package %s: policies are data.microguard.policies.<name>, one level deep", m.Package.Path)
	}
	var ann *ast.Annotations
	for _, a := range m.Annotations {
		if a.Scope == "package" {
			ann = a
		}
	}
	if ann == nil {
		return info, fmt.Errorf("package %s has no METADATA annotation with custom.id", m.Package.Path)
	}
	info.Title, info.Description = ann.Title, strings.TrimSpace(ann.Description)
	id, _ := ann.Custom["id"].(string)
	if !idPattern.MatchString(id) {
		return info, fmt.Errorf("custom.id %q must be lower-case words joined by '-'", id)
	}
	info.ID = id
	spec, err := specFrom(id, ann.Custom)
	if err != nil {
		return info, err
	}
	info.Spec = spec
	info.Inline = true
	if v, ok := ann.Custom["inline"]; ok {
		if info.Inline, ok = v.(bool); !ok {
			return info, fmt.Errorf("custom.inline must be true or false, not %v", v)
		}
	}
	if !definesViolation(m) {
		return info, fmt.Errorf("policy %s defines no partial set rule \"violation\"", id)
	}
	return info, nil
}

func definesViolation(m *ast.Module) bool {
	for _, r := range m.Rules {
		if r.Head.Name.String() == "violation" || (len(r.Head.Reference) > 0 && r.Head.Reference[0].Value.Compare(ast.Var("violation")) == 0) {
			return r.Head.RuleKind() == ast.MultiValue
		}
	}
	return false
}

// specFrom reads defaultAction and options from the annotation's custom map.
func specFrom(id string, custom map[string]any) (config.Spec, error) {
	spec := config.Spec{ID: id, DefaultAction: config.Deny, Options: map[string]config.Option{}}
	if a, ok := custom["defaultAction"].(string); ok {
		spec.DefaultAction = config.Action(a)
	}
	opts, _ := custom["options"].(map[string]any)
	for name, raw := range opts {
		// Round-trip through JSON so the annotation's YAML maps fit the struct.
		var o struct {
			Type        config.OptionType `json:"type"`
			Default     any               `json:"default"`
			Enum        []string          `json:"enum"`
			Pattern     string            `json:"pattern"`
			Description string            `json:"description"`
		}
		data, err := json.Marshal(raw)
		if err == nil {
			err = json.Unmarshal(data, &o)
		}
		if err != nil {
			return spec, fmt.Errorf("custom.options.%s: %w", name, err)
		}
		if o.Description == "" {
			return spec, fmt.Errorf("custom.options.%s has no description", name)
		}
		spec.Options[name] = config.Option{Type: o.Type, Default: o.Default, Enum: o.Enum, Pattern: o.Pattern, Description: o.Description}
	}
	return spec, spec.Validate()
}

// Policies lists the bundle's policies, sorted by file.
func (b *Bundle) Policies() []Info { return slices.Clone(b.policies) }

// Schema is what the configuration may say about the bundle's policies.
func (b *Bundle) Schema() []config.Spec {
	out := make([]config.Spec, len(b.policies))
	for i, p := range b.policies {
		out[i] = p.Spec
	}
	return out
}

// Revision is a digest over every module of the bundle.
func (b *Bundle) Revision() string { return b.revision }

// Fixtures lists the fixture files of every policy (<dir>/testdata), by the
// names Open takes.
// FixtureConfig, in a policy's testdata, is the microguard config its
// fixtures are decided with (the built-in defaults when absent); it is not
// a fixture itself.
const FixtureConfig = "config.yaml"

func (b *Bundle) Fixtures() ([]string, error) {
	var out []string
	for _, p := range b.policies {
		dir := path.Join(path.Dir(p.File), "testdata")
		src, rel := b.source(dir)
		entries, err := fs.ReadDir(src.FS, rel)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.Name() == FixtureConfig {
				continue
			}
			if ext := path.Ext(e.Name()); ext == ".yaml" || ext == ".yml" || ext == ".json" {
				out = append(out, path.Join(dir, e.Name()))
			}
		}
	}
	return out, nil
}

// Open opens a file of the bundle by the name Fixtures gives.
func (b *Bundle) Open(name string) (fs.File, error) {
	src, rel := b.source(name)
	return src.FS.Open(rel)
}

// Source is a directory of Rego modules: the embedded bundle (Name "") or
// an admin's custom policies, whose files are named <Name>/<path>.
type Source struct {
	Name string
	FS   fs.FS
}

// source finds the source of a bundle file name and the name inside it.
func (b *Bundle) source(name string) (Source, string) {
	for _, s := range b.sources[1:] {
		if rel, ok := strings.CutPrefix(name, s.Name+"/"); ok {
			return s, rel
		}
	}
	return b.sources[0], name
}

// walk calls fn with every .rego file of every source (tests only when
// tests is true, else everything but tests), by bundle name.
func (b *Bundle) walk(tests bool, fn func(name string, src []byte) error) error {
	for _, s := range b.sources {
		err := fs.WalkDir(s.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") != tests {
				return nil
			}
			src, err := fs.ReadFile(s.FS, p)
			if err != nil {
				return err
			}
			return fn(path.Join(s.Name, p), src)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
