package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
)

// OptionType is the type of a policy or mutation option.
type OptionType string

// The option types a policy or mutation can declare.
const (
	String     OptionType = "string"
	Bool       OptionType = "bool"
	Int        OptionType = "int"
	StringList OptionType = "stringList"
	StringMap  OptionType = "stringMap"
	// PatternMap is a map of strings whose values are regular expressions,
	// checked when the config is read.
	PatternMap OptionType = "patternMap"
	// StringListMap is a map of string lists.
	StringListMap OptionType = "stringListMap"
	// ObjectList is a list of maps whose fields the option's owner checks
	// (a mutator's New); the config checks only the shape.
	ObjectList OptionType = "objectList"
)

var optionTypes = []OptionType{String, Bool, Int, StringList, StringMap, PatternMap, StringListMap, ObjectList}

// Option declares one option of a policy or mutation.
type Option struct {
	Type        OptionType
	Default     any
	Enum        []string // allowed values of a string option, when set
	Pattern     string   // a regular expression a string option must match, when set
	Description string
}

// Spec declares a policy or mutation this release implements: its id, its
// default action (policies only) and its options.
type Spec struct {
	ID            string
	DefaultAction Action
	Options       map[string]Option
}

// Schema is everything the config may name.
type Schema struct {
	Policies  []Spec
	Mutations []Spec
}

// Validate checks that the spec's defaults are of their declared types.
func (s Spec) Validate() error {
	if s.DefaultAction != "" && !slices.Contains(actions, s.DefaultAction) {
		return fmt.Errorf("%s: defaultAction %q is not one of %v", s.ID, s.DefaultAction, actions)
	}
	for _, name := range slices.Sorted(maps.Keys(s.Options)) {
		o := s.Options[name]
		if !slices.Contains(optionTypes, o.Type) {
			return fmt.Errorf("%s: option %s: type %q is not one of %v", s.ID, name, o.Type, optionTypes)
		}
		if _, err := convert(o, o.Default); err != nil {
			return fmt.Errorf("%s: option %s: default: %w", s.ID, name, err)
		}
	}
	return nil
}

func (s Spec) defaults() map[string]any {
	out := make(map[string]any, len(s.Options))
	for name, o := range s.Options {
		v, _ := convert(o, o.Default) // checked by Validate
		out[name] = v
	}
	return out
}

func find(specs []Spec, id string) (Spec, bool) {
	for _, s := range specs {
		if s.ID == id {
			return s, true
		}
	}
	return Spec{}, false
}

func ids(specs []Spec) []string {
	out := make([]string, 0, len(specs))
	for _, s := range specs {
		out = append(out, s.ID)
	}
	slices.Sort(out)
	return out
}

// convert checks v against o's type and returns it in the form policies see:
// strings, bools, int64, []any of strings, map[string]any of strings.
func convert(o Option, v any) (any, error) {
	switch o.Type {
	case String:
		s, ok := v.(string)
		if !ok && v != nil { // nil is "", which must still be in the enum
			return nil, fmt.Errorf("expected a string, got %s", typeName(v))
		}
		if len(o.Enum) > 0 && !slices.Contains(o.Enum, s) {
			return nil, fmt.Errorf("%q is not one of %v", s, o.Enum)
		}
		if o.Pattern != "" {
			re, err := regexp.Compile(o.Pattern)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %w", o.Pattern, err)
			}
			if !re.MatchString(s) {
				return nil, fmt.Errorf("%q does not match %s", s, o.Pattern)
			}
		}
		return s, nil
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("expected true or false, got %s", typeName(v))
		}
		return b, nil
	case Int:
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case int64:
			return n, nil
		case uint64:
			if n <= math.MaxInt64 {
				return int64(n), nil
			}
		case float64:
			// Range check first: converting an out-of-range float to int64 is
			// implementation-defined.
			if n >= math.MinInt64 && n < math.MaxInt64 && n == math.Trunc(n) {
				return int64(n), nil
			}
		case json.Number:
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
		}
		return nil, fmt.Errorf("expected an integer, got %s", typeName(v))
	case StringList:
		if v == nil {
			return []any{}, nil
		}
		items, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("expected a list of strings, got %s", typeName(v))
		}
		out := make([]any, len(items))
		for i, it := range items {
			s, ok := it.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("[%d]: expected a non-empty string, got %s", i, typeName(it))
			}
			out[i] = s
		}
		return out, nil
	case ObjectList:
		if v == nil {
			return []any{}, nil
		}
		items, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("expected a list of maps, got %s", typeName(v))
		}
		for i, it := range items {
			if _, ok := it.(map[string]any); !ok {
				return nil, fmt.Errorf("[%d]: expected a map, got %s", i, typeName(it))
			}
		}
		return items, nil
	case StringMap, PatternMap, StringListMap:
		if v == nil {
			return map[string]any{}, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("expected a map of %s, got %s", map[OptionType]string{StringMap: "strings", PatternMap: "regular expressions", StringListMap: "string lists"}[o.Type], typeName(v))
		}
		out := make(map[string]any, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			it, err := convertItem(o.Type, m[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = it
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown option type %q", o.Type)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}

// convertItem checks one value of a map option.
func convertItem(t OptionType, v any) (any, error) {
	switch t {
	case StringListMap:
		return convert(Option{Type: StringList}, v)
	case PatternMap:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected a regular expression, got %s", typeName(v))
		}
		if _, err := regexp.Compile(s); err != nil {
			return nil, fmt.Errorf("not a valid regular expression: %w", err)
		}
		return s, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("expected a string, got %s", typeName(v))
	}
	return s, nil
}
