package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is a configuration error at one key.
type Error struct {
	File string
	Line int
	Key  string // dotted path of the key at fault, e.g. policies.owner-labels.labels
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
}

type parser struct {
	file string
	s    Schema
	c    *Config
}

func (p *parser) fail(n *yaml.Node, key, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

func parse(name string, data []byte, s Schema) (*Config, error) {
	p := &parser{file: name, s: s, c: Default(s)}
	// Read every document: yaml.Unmarshal would silently ignore all but the
	// first. Empty documents ("---" alone, "~") are skipped.
	var root *yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &Error{File: name, Msg: fmt.Sprintf("not valid YAML: %v", err)}
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue
		}
		if root != nil {
			return nil, p.fail(doc.Content[0], "", "more than one YAML document (the config is one document)")
		}
		root = doc.Content[0]
	}
	if root == nil { // empty file: built-in defaults
		return p.c, nil
	}
	err := p.mapping(root, "", map[string]func(*yaml.Node, string) error{
		"apiVersion":  p.apiVersion,
		"kind":        p.kind,
		"policies":    p.policies,
		"mutations":   p.mutations,
		"exemptions":  p.exemptions,
		"exceptions":  p.exceptions,
		"decisionLog": p.decisionLog,
		"customPolicies": func(n *yaml.Node, key string) error {
			dir, err := p.scalar(n, key)
			p.c.CustomPolicies = dir
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	return p.c, nil
}

// mapping walks a YAML mapping, calling the handler of each known key and
// failing on any other key.
func (p *parser) mapping(n *yaml.Node, path string, handlers map[string]func(*yaml.Node, string) error) error {
	if n.Kind != yaml.MappingNode {
		return p.fail(n, path, "expected a map, got %s", nodeKind(n))
	}
	if err := p.unique(n, path); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		if !ok {
			return p.fail(k, join(path, k.Value), "unknown key (known keys: %s)", strings.Join(slices.Sorted(maps.Keys(handlers)), ", "))
		}
		if err := h(v, join(path, k.Value)); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) apiVersion(n *yaml.Node, key string) error {
	if n.Kind != yaml.ScalarNode || n.Value != APIVersion {
		return p.fail(n, key, "unsupported version %q (this release reads %s)", n.Value, APIVersion)
	}
	return nil
}

func (p *parser) kind(n *yaml.Node, key string) error {
	if n.Kind != yaml.ScalarNode || n.Value != "Config" {
		return p.fail(n, key, "expected Config, got %q", n.Value)
	}
	return nil
}

func (p *parser) policies(n *yaml.Node, key string) error {
	return p.entries(n, key, p.s.Policies, "policy", func(v *yaml.Node, path string, spec Spec, known bool) error {
		pol := Policy{Action: spec.DefaultAction, Options: spec.defaults()}
		opts, err := p.options(v, path, spec, known, "action", func(a *yaml.Node) error {
			act, err := p.scalar(a, path+".action")
			if err != nil {
				return err
			}
			if !slices.Contains(actions, Action(act)) {
				return p.fail(a, path+".action", "%q is not one of deny, warn, audit, off", act)
			}
			pol.Action = Action(act)
			return nil
		})
		if err != nil {
			return err
		}
		if !known {
			if pol.Action != Off {
				return p.fail(v, path, "policy %q is not implemented by this release (implemented: %s); set action: off to keep it in the file", spec.ID, strings.Join(ids(p.s.Policies), ", "))
			}
			p.c.Warnings = append(p.c.Warnings, fmt.Sprintf("%s: policy %q is not implemented by this release; it is off and its options are not checked", path, spec.ID))
			return nil
		}
		maps.Copy(pol.Options, opts)
		p.c.Policies[spec.ID] = pol
		return nil
	})
}

func (p *parser) mutations(n *yaml.Node, key string) error {
	return p.entries(n, key, p.s.Mutations, "mutation", func(v *yaml.Node, path string, spec Spec, known bool) error {
		mut := Mutation{Enabled: true, Options: spec.defaults()}
		opts, err := p.options(v, path, spec, known, "enabled", func(e *yaml.Node) error {
			var b bool // Decode, not Value == "true": True and TRUE are true too
			if e.Kind != yaml.ScalarNode || e.Tag != "!!bool" || e.Decode(&b) != nil {
				return p.fail(e, path+".enabled", "expected true or false, got %q", e.Value)
			}
			mut.Enabled = b
			return nil
		})
		if err != nil {
			return err
		}
		if !known {
			if mut.Enabled {
				return p.fail(v, path, "mutation %q is not implemented by this release (implemented: %s); set enabled: false to keep it in the file", spec.ID, strings.Join(ids(p.s.Mutations), ", "))
			}
			p.c.Warnings = append(p.c.Warnings, fmt.Sprintf("%s: mutation %q is not implemented by this release; it is off and its options are not checked", path, spec.ID))
			return nil
		}
		maps.Copy(mut.Options, opts)
		p.c.Mutations[spec.ID] = mut
		return nil
	})
}

// entries walks the policies or mutations map, calling each for every entry.
func (p *parser) entries(n *yaml.Node, key string, specs []Spec, what string, each func(*yaml.Node, string, Spec, bool) error) error {
	if n.Kind != yaml.MappingNode {
		return p.fail(n, key, "expected a map of %s ids, got %s", what, nodeKind(n))
	}
	if err := p.unique(n, key); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		spec, known := find(specs, k.Value)
		if !known {
			spec = Spec{ID: k.Value}
		}
		if err := each(v, join(key, k.Value), spec, known); err != nil {
			return err
		}
	}
	return nil
}

// options reads the switch key (action or enabled) through onSwitch and, for a
// known spec, every declared option; an undeclared option is an error.
func (p *parser) options(n *yaml.Node, path string, spec Spec, known bool, switchKey string, onSwitch func(*yaml.Node) error) (map[string]any, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.fail(n, path, "expected a map, got %s", nodeKind(n))
	}
	if err := p.unique(n, path); err != nil {
		return nil, err
	}
	out := map[string]any{}
	var deferred error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if k.Value == switchKey {
			if err := onSwitch(v); err != nil {
				return nil, err
			}
			continue
		}
		if !known {
			continue
		}
		o, ok := spec.Options[k.Value]
		if !ok {
			known := append([]string{switchKey}, slices.Sorted(maps.Keys(spec.Options))...)
			if deferred == nil {
				deferred = p.fail(k, key, "unknown key (known keys: %s)", strings.Join(known, ", "))
			}
			continue
		}
		var raw any
		if err := v.Decode(&raw); err != nil {
			return nil, p.fail(v, key, "%v", err)
		}
		val, err := convert(o, raw)
		if err != nil {
			return nil, p.fail(v, key, "%v", err)
		}
		out[k.Value] = val
		p.record(v, key)
	}
	return out, deferred
}

func (p *parser) exemptions(n *yaml.Node, key string) error {
	list := func(dst *[]string) func(*yaml.Node, string) error {
		return func(v *yaml.Node, path string) error {
			ss, err := p.stringList(v, path)
			*dst = append((*dst)[:0], ss...)
			return err
		}
	}
	e := &p.c.Exemptions
	return p.mapping(n, key, map[string]func(*yaml.Node, string) error{
		"namespaces": list(&e.Namespaces),
		"usernames":  list(&e.Usernames),
		"groups":     list(&e.Groups),
	})
}

func (p *parser) decisionLog(n *yaml.Node, key string) error {
	d := &p.c.DecisionLog
	duration := func(dst *time.Duration, min time.Duration) func(*yaml.Node, string) error {
		return func(v *yaml.Node, k string) error {
			s, err := p.scalar(v, k)
			if err != nil {
				return err
			}
			dur, err := time.ParseDuration(s)
			if err != nil || dur < min {
				return p.fail(v, k, "%q is not a duration of at least %s, such as 1m or 720h", s, min)
			}
			*dst = dur
			return nil
		}
	}
	patterns := func(dst *[]string) func(*yaml.Node, string) error {
		return func(v *yaml.Node, k string) error {
			ss, err := p.stringList(v, k)
			if err != nil {
				return err
			}
			for i, it := range ss {
				if _, err := regexp.Compile(it); err != nil {
					return p.fail(v.Content[i], fmt.Sprintf("%s[%d]", k, i), "not a regular expression: %v", err)
				}
			}
			*dst = ss
			return nil
		}
	}
	return p.mapping(n, key, map[string]func(*yaml.Node, string) error{
		"onFailure": func(v *yaml.Node, k string) error {
			s, err := p.scalar(v, k)
			if err == nil && s != "deny" && s != "allow" {
				return p.fail(v, k, "%q is not one of deny, allow", s)
			}
			d.OnFailure = s
			return err
		},
		"checkpointInterval": duration(&d.CheckpointInterval, time.Second),
		"sqliteSync": func(v *yaml.Node, k string) error {
			s, err := p.scalar(v, k)
			if err == nil && s != "full" && s != "normal" {
				return p.fail(v, k, "%q is not one of full, normal", s)
			}
			d.SQLiteSync = s
			return err
		},
		"signingKey": func(v *yaml.Node, k string) error {
			s, err := p.scalar(v, k)
			d.SigningKey = s
			p.record(v, k)
			return err
		},
		"retention": func(v *yaml.Node, k string) error {
			return p.mapping(v, k, map[string]func(*yaml.Node, string) error{
				"maxAge": duration(&d.MaxAge, time.Minute),
				"maxRecords": func(v *yaml.Node, k string) error {
					var n int64
					if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&n) != nil || n < 1 {
						return p.fail(v, k, "expected a positive whole number of records")
					}
					d.MaxRecords = n
					return nil
				},
			})
		},
		"redact": func(v *yaml.Node, k string) error {
			return p.mapping(v, k, map[string]func(*yaml.Node, string) error{
				"envNames":    patterns(&d.Redact.EnvNames),
				"secretNames": patterns(&d.Redact.SecretNames),
				"annotations": patterns(&d.Redact.Annotations),
			})
		},
	})
}

func (p *parser) exceptions(n *yaml.Node, key string) error {
	if n.Kind != yaml.SequenceNode {
		return p.fail(n, key, "expected a list of exceptions, got %s", nodeKind(n))
	}
	for i, item := range n.Content {
		at := fmt.Sprintf("%s[%d]", key, i)
		e := Exception{Source: at}
		str := func(dst *string) func(*yaml.Node, string) error {
			return func(v *yaml.Node, k string) error {
				s, err := p.scalar(v, k)
				*dst = s
				return err
			}
		}
		list := func(dst *[]string) func(*yaml.Node, string) error {
			return func(v *yaml.Node, k string) error {
				ss, err := p.stringList(v, k)
				if err != nil {
					return err
				}
				for _, s := range ss {
					if _, err := path.Match(s, ""); err != nil {
						return p.fail(v, k, "%q is not a valid glob: %v", s, err)
					}
					*dst = append(*dst, s)
				}
				return nil
			}
		}
		var expires string
		err := p.mapping(item, at, map[string]func(*yaml.Node, string) error{
			"policy":        str(&e.Policy),
			"rules":         list(&e.Rules),
			"namespaces":    list(&e.Namespaces),
			"names":         list(&e.Names),
			"images":        list(&e.Images),
			"justification": str(&e.Justification),
			"approvedBy":    str(&e.ApprovedBy),
			"expires":       str(&expires),
		})
		if err != nil {
			return err
		}
		switch {
		case e.Policy == "":
			return p.fail(item, at+".policy", "an exception names the policy it waives")
		case !slices.ContainsFunc(p.s.Policies, func(s Spec) bool { return s.ID == e.Policy }):
			return p.fail(item, at+".policy", "policy %q is not implemented by this release (implemented: %s)", e.Policy, strings.Join(ids(p.s.Policies), ", "))
		case strings.TrimSpace(e.Justification) == "":
			return p.fail(item, at+".justification", "an exception needs a justification: why the policy cannot be met")
		case strings.TrimSpace(e.ApprovedBy) == "":
			return p.fail(item, at+".approvedBy", "an exception needs approvedBy: who granted it")
		case expires == "":
			return p.fail(item, at+".expires", "an exception needs an expiry date (YYYY-MM-DD or RFC 3339): exceptions end")
		case len(e.Namespaces) == 0 && len(e.Names) == 0:
			return p.fail(item, at, "an exception names the namespaces or object names it applies to")
		}
		if e.Expires, err = parseExpiry(expires); err != nil {
			return p.fail(item, at+".expires", "%v", err)
		}
		p.c.Exceptions = append(p.c.Exceptions, e)
	}
	return nil
}

// parseExpiry reads an RFC 3339 time, or a date, which expires at the end of
// that day (UTC).
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (YYYY-MM-DD) nor an RFC 3339 time", s)
	}
	return d.AddDate(0, 0, 1), nil
}

func (p *parser) scalar(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.fail(n, key, "expected a string, got %s", nodeKind(n))
	}
	return n.Value, nil
}

// unique fails on a key that occurs twice in mapping n: yaml.v3 checks
// duplicates only when decoding into a Go map or struct, not into a Node.
func (p *parser) unique(n *yaml.Node, path string) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if line, ok := seen[k.Value]; ok {
			return p.fail(k, join(path, k.Value), "duplicate key (first at line %d)", line)
		}
		seen[k.Value] = k.Line
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// record remembers the line of the value at key and of everything inside
// it (rules[0].keys[1]), so that an option's owner that checks its fields
// later can name the line at fault (Config.Errorf).
func (p *parser) record(n *yaml.Node, key string) {
	if p.c.lines == nil {
		p.c.lines = map[string]int{}
	}
	p.c.lines[key] = n.Line
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p.record(n.Content[i+1], join(key, n.Content[i].Value))
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p.record(c, fmt.Sprintf("%s[%d]", key, i))
		}
	}
}

// stringList reads a list of non-empty strings (an empty list for null).
func (p *parser) stringList(v *yaml.Node, key string) ([]string, error) {
	var raw any
	if err := v.Decode(&raw); err != nil {
		return nil, p.fail(v, key, "%v", err)
	}
	val, err := convert(Option{Type: StringList}, raw)
	if err != nil {
		return nil, p.fail(v, key, "%v", err)
	}
	out := []string{}
	for _, it := range val.([]any) {
		out = append(out, it.(string))
	}
	return out, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// IsConfigError reports whether err is a configuration error.
func IsConfigError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
