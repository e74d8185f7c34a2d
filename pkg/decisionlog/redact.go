package decisionlog

import (
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// Redacted replaces a value that must not be stored.
const Redacted = "[redacted]"

// Redaction says which values never reach the log: the values of env vars,
// the names of Secrets and the values of annotations whose names match.
type Redaction struct {
	EnvNames    []*regexp.Regexp
	SecretNames []*regexp.Regexp
	Annotations []*regexp.Regexp
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if matches(re, s) {
			return true
		}
	}
	return false
}

// The same few names (env vars, annotations) come in every patch, and the
// default patterns are unanchored and case-insensitive: a few microseconds
// a name. matched remembers the answers, up to maxMatched of them (then it
// starts over), so that arbitrary names cannot grow it.
var (
	matched     sync.Map // matchKey -> bool
	matchedSize atomic.Int64
)

const maxMatched = 4096

type matchKey struct {
	re *regexp.Regexp
	s  string
}

func matches(re *regexp.Regexp, s string) bool {
	k := matchKey{re, s}
	if v, ok := matched.Load(k); ok {
		return v.(bool)
	}
	m := re.MatchString(s)
	if matchedSize.Add(1) > maxMatched {
		matched.Clear()
		matchedSize.Store(1)
	}
	matched.Store(k, m)
	return m
}

// Apply redacts the patch in place.
func (rd Redaction) Apply(ops []PatchOp) {
	for i := range ops {
		op := &ops[i]
		switch {
		case strings.HasSuffix(op.Path, "/metadata/annotations"):
			if m, ok := op.Value.(map[string]any); ok {
				for k := range m {
					if matchAny(rd.Annotations, k) {
						m[k] = Redacted
					}
				}
			}
		case strings.Contains(op.Path, "/metadata/annotations/"):
			key := op.Path[strings.LastIndex(op.Path, "/")+1:]
			key = strings.ReplaceAll(strings.ReplaceAll(key, "~1", "/"), "~0", "~")
			if matchAny(rd.Annotations, key) && op.Value != nil {
				op.Value = Redacted
			}
		case strings.HasSuffix(op.Path, "/imagePullSecrets") || strings.Contains(op.Path, "/imagePullSecrets/"):
			rd.pullSecrets(op.Value)
		default:
			op.Value = rd.walk(op.Value)
		}
	}
}

// pullSecrets redacts the names in an imagePullSecrets list or item.
func (rd Redaction) pullSecrets(v any) {
	switch t := v.(type) {
	case []any:
		for _, it := range t {
			rd.pullSecrets(it)
		}
	case map[string]any:
		if s, ok := t["name"].(string); ok && matchAny(rd.SecretNames, s) {
			t["name"] = Redacted
		}
	}
}

// walk redacts env var values and secret names anywhere in v.
func (rd Redaction) walk(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if name, ok := t["name"].(string); ok {
			if _, isEnv := t["value"]; isEnv && matchAny(rd.EnvNames, name) {
				t["value"] = Redacted
			}
		}
		for k, child := range t {
			switch k {
			case "secretName":
				if s, ok := child.(string); ok && matchAny(rd.SecretNames, s) {
					t[k] = Redacted
					continue
				}
			case "imagePullSecrets":
				rd.pullSecrets(child)
			case "secretKeyRef", "secretRef", "secret":
				if m, ok := child.(map[string]any); ok {
					for _, nk := range []string{"name", "secretName"} {
						if s, ok := m[nk].(string); ok && matchAny(rd.SecretNames, s) {
							m[nk] = Redacted
						}
					}
				}
			}
			t[k] = rd.walk(t[k])
		}
		return t
	case []any:
		for i := range t {
			t[i] = rd.walk(t[i])
		}
		return t
	}
	return v
}
