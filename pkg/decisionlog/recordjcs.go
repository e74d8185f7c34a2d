package decisionlog

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendRecordCanonical appends the RFC 8785 (JCS) form of r to dst,
// straight from the struct: exactly the bytes appendCanonical makes of
// json.Marshal(r) (held to that by TestRecordCanonical and
// FuzzRecordCanonical), without encoding the record and parsing it again.
func appendRecordCanonical(dst []byte, r *Record) ([]byte, error) {
	out, _, err := appendRecordJCS(dst, r)
	return out, err
}

// appendRecordJCS is appendRecordCanonical that also returns the offset in
// out where a "hash" member goes (just after dryRun) when r.Hash is empty.
//
// The members are written in JCS order, by their UTF-16 code units (here
// ASCII, so byte order), with the omitempty ones left out when
// encoding/json would leave them out. Strings are what json.Marshal then
// appendCanonical make of them: invalid UTF-8 becomes U+FFFD, as
// json.Marshal writes it, and only quotes, backslashes and control
// characters are escaped (not <, >, &, U+2028 or U+2029, which
// json.Marshal escapes and JCS does not). Numbers are ECMAScript's, as
// appendCanonical writes the number json.Marshal wrote.
func appendRecordJCS(out []byte, r *Record) (_ []byte, hashAt int, err error) {
	out = append(out, `{"allowed":`...)
	out = appendBool(out, r.Allowed)
	out = append(out, `,"bundle":{"config":`...)
	out = AppendJSONString(out, r.Bundle.Config)
	out = append(out, `,"revision":`...)
	out = AppendJSONString(out, r.Bundle.Revision)
	out = append(out, `},"dryRun":`...)
	out = appendBool(out, r.DryRun)
	out = append(out, ',')
	hashAt = len(out)
	if r.Hash != "" {
		out = append(out, `"hash":`...)
		out = AppendJSONString(out, r.Hash)
		out = append(out, ',')
	}
	out = append(out, `"images":`...)
	if r.Images == nil {
		out = append(out, "null"...)
	} else {
		out = append(out, '[')
		for i := range r.Images {
			im := &r.Images[i]
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"image":`...)
			out = AppendJSONString(out, im.Image)
			out = append(out, `,"outcome":`...)
			out = AppendJSONString(out, im.Outcome)
			if im.Reference != "" {
				out = append(out, `,"reference":`...)
				out = AppendJSONString(out, im.Reference)
			}
			out = append(out, '}')
		}
		out = append(out, ']')
	}
	out = append(out, `,"kind":{"group":`...)
	out = AppendJSONString(out, r.Kind.Group)
	out = append(out, `,"kind":`...)
	out = AppendJSONString(out, r.Kind.Kind)
	out = append(out, `,"version":`...)
	out = AppendJSONString(out, r.Kind.Version)
	out = append(out, `},"latencyMs":`...)
	if out, err = appendJCSFloat(out, r.LatencyMs); err != nil {
		return nil, 0, err
	}
	out = append(out, `,"name":`...)
	out = AppendJSONString(out, r.Name)
	out = append(out, `,"namespace":`...)
	out = AppendJSONString(out, r.Namespace)
	out = append(out, `,"operation":`...)
	out = AppendJSONString(out, r.Operation)
	out = append(out, `,"patch":`...)
	if r.Patch == nil {
		out = append(out, "null"...)
	} else {
		out = append(out, '[')
		for i := range r.Patch {
			op := &r.Patch[i]
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"op":`...)
			out = AppendJSONString(out, op.Op)
			out = append(out, `,"path":`...)
			out = AppendJSONString(out, op.Path)
			if op.Value != nil {
				out = append(out, `,"value":`...)
				if out, err = appendJCSAny(out, op.Value, 0); err != nil {
					return nil, 0, err
				}
			}
			out = append(out, '}')
		}
		out = append(out, ']')
	}
	out = append(out, `,"prevHash":`...)
	out = AppendJSONString(out, r.PrevHash)
	if r.Reason != "" {
		out = append(out, `,"reason":`...)
		out = AppendJSONString(out, r.Reason)
	}
	out = append(out, `,"replica":`...)
	out = AppendJSONString(out, r.Replica)
	out = append(out, `,"resource":{"group":`...)
	out = AppendJSONString(out, r.Resource.Group)
	out = append(out, `,"resource":`...)
	out = AppendJSONString(out, r.Resource.Resource)
	out = append(out, `,"version":`...)
	out = AppendJSONString(out, r.Resource.Version)
	out = append(out, `},"seq":`...)
	// json.Marshal writes the integer; appendCanonical reads it as a
	// float64 (correctly rounded, as this conversion is) and writes that.
	out = appendES6Number(out, float64(r.Seq))
	out = append(out, `,"subResource":`...)
	out = AppendJSONString(out, r.SubResource)
	out = append(out, `,"time":`...)
	out = AppendJSONString(out, r.Time)
	out = append(out, `,"uid":`...)
	out = AppendJSONString(out, r.UID)
	out = append(out, `,"user":{"groups":`...)
	out = appendJCSStrings(out, r.User.Groups)
	out = append(out, `,"username":`...)
	out = AppendJSONString(out, r.User.Username)
	out = append(out, `},"violations":`...)
	if r.Violations == nil {
		out = append(out, "null"...)
	} else {
		out = append(out, '[')
		for i := range r.Violations {
			v := &r.Violations[i]
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"action":`...)
			out = AppendJSONString(out, v.Action)
			if v.Exception != "" {
				out = append(out, `,"exception":`...)
				out = AppendJSONString(out, v.Exception)
			}
			out = append(out, `,"field":`...)
			out = AppendJSONString(out, v.Field)
			out = append(out, `,"message":`...)
			out = AppendJSONString(out, v.Message)
			out = append(out, `,"policy":`...)
			out = AppendJSONString(out, v.Policy)
			out = append(out, `,"rule":`...)
			out = AppendJSONString(out, v.Rule)
			out = append(out, '}')
		}
		out = append(out, ']')
	}
	out = append(out, `,"warnings":`...)
	out = appendJCSStrings(out, r.Warnings)
	out = append(out, `,"webhook":`...)
	out = AppendJSONString(out, r.Webhook)
	return append(out, '}'), hashAt, nil
}

// recordSizeHint is about the length of r's canonical form, so that it is
// written into one allocation (what it underestimates, append grows).
func recordSizeHint(r *Record) int {
	n := 400 + len(r.Time) + len(r.UID) + len(r.Webhook) + len(r.Operation) +
		len(r.Kind.Group) + len(r.Kind.Version) + len(r.Kind.Kind) +
		len(r.Resource.Group) + len(r.Resource.Version) + len(r.Resource.Resource) +
		len(r.SubResource) + len(r.Namespace) + len(r.Name) + len(r.User.Username) +
		len(r.Reason) + len(r.Bundle.Revision) + len(r.Bundle.Config) +
		len(r.Replica) + len(r.PrevHash) + len(r.Hash)
	for _, g := range r.User.Groups {
		n += len(g) + 3
	}
	for _, w := range r.Warnings {
		n += len(w) + 3
	}
	for i := range r.Violations {
		v := &r.Violations[i]
		n += 80 + len(v.Policy) + len(v.Rule) + len(v.Action) + len(v.Message) + len(v.Field) + len(v.Exception)
	}
	for i := range r.Images {
		im := &r.Images[i]
		n += 50 + len(im.Image) + len(im.Reference) + len(im.Outcome)
	}
	for i := range r.Patch {
		op := &r.Patch[i]
		n += 40 + len(op.Op) + len(op.Path)
		if s, ok := op.Value.(string); ok {
			n += len(s)
		} else if op.Value != nil {
			n += 64
		}
	}
	return n
}

func appendBool(out []byte, b bool) []byte {
	if b {
		return append(out, "true"...)
	}
	return append(out, "false"...)
}

// appendJCSFloat writes f as appendCanonical writes what json.Marshal
// writes of it, and refuses what json.Marshal refuses (NaN, infinities).
func appendJCSFloat(out []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	return appendES6Number(out, f), nil
}

func appendJCSStrings(out []byte, ss []string) []byte {
	if ss == nil {
		return append(out, "null"...)
	}
	out = append(out, '[')
	for i, s := range ss {
		if i > 0 {
			out = append(out, ',')
		}
		out = AppendJSONString(out, s)
	}
	return append(out, ']')
}

// maxJCSDepth is how deep appendJCSAny writes maps and slices itself;
// deeper, json.Marshal and appendCanonical do (so a cyclic value fails as
// json.Marshal fails it, instead of overflowing the stack).
const maxJCSDepth = 64

// appendJCSAny writes a patch value as appendCanonical writes what
// json.Marshal writes of it: the types JSON decodes to (and int, int64)
// directly, anything else through json.Marshal and appendCanonical.
func appendJCSAny(out []byte, v any, depth int) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(out, "null"...), nil
	case string:
		return AppendJSONString(out, t), nil
	case bool:
		return appendBool(out, t), nil
	case float64:
		return appendJCSFloat(out, t)
	case int:
		return appendES6Number(out, float64(t)), nil
	case int64:
		return appendES6Number(out, float64(t)), nil
	case []any:
		if t == nil {
			return append(out, "null"...), nil
		}
		if depth >= maxJCSDepth {
			break
		}
		out = append(out, '[')
		for i, e := range t {
			if i > 0 {
				out = append(out, ',')
			}
			var err error
			if out, err = appendJCSAny(out, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(out, ']'), nil
	case map[string]any:
		if t == nil {
			return append(out, "null"...), nil
		}
		if depth >= maxJCSDepth {
			break
		}
		return appendJCSMap(out, t, depth)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return appendCanonical(out, raw, "")
}

type jcsMapMember struct {
	key string // as json.Marshal writes it: invalid UTF-8 as U+FFFD
	val any
}

func appendJCSMap(out []byte, m map[string]any, depth int) ([]byte, error) {
	if len(m) == 0 {
		return append(out, "{}"...), nil
	}
	members := make([]jcsMapMember, 0, len(m))
	for k, v := range m {
		if !utf8.ValidString(k) {
			k = replaceInvalidUTF8(k)
		}
		members = append(members, jcsMapMember{k, v})
	}
	slices.SortFunc(members, func(a, b jcsMapMember) int { return compareUTF16String(a.key, b.key) })
	out = append(out, '{')
	for i := range members {
		m := &members[i]
		if i > 0 {
			// Two names json.Marshal writes the same (they differ only in
			// invalid UTF-8): appendCanonical refuses the duplicate.
			if members[i-1].key == m.key {
				return nil, fmt.Errorf("canonical JSON: duplicate member %q", m.key)
			}
			out = append(out, ',')
		}
		out = AppendJSONString(out, m.key)
		out = append(out, ':')
		var err error
		if out, err = appendJCSAny(out, m.val, depth+1); err != nil {
			return nil, err
		}
	}
	return append(out, '}'), nil
}

// replaceInvalidUTF8 is s with each byte that is not part of valid UTF-8
// replaced by U+FFFD, as json.Marshal writes it (strings.ToValidUTF8
// replaces a run of them by one).
func replaceInvalidUTF8(s string) string {
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

// compareUTF16String is compareUTF16 of two strings.
func compareUTF16String(a, b string) int {
	if !supplementaryString(a) && !supplementaryString(b) {
		return strings.Compare(a, b)
	}
	return compareUTF16([]byte(a), []byte(b))
}

func supplementaryString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xf0 {
			return true
		}
	}
	return false
}
