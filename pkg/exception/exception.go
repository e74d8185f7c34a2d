// Package exception applies the config's exceptions: a violation that an
// unexpired exception covers no longer decides the request, and the decision
// says which exception waived it. Expiry is checked on every request, so an
// exception ends on time without a restart.
package exception

import (
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/microguard/microguard/pkg/admission"
	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/policy"
)

// Set is the configured exceptions.
type Set []config.Exception

// Apply marks every violation that an exception in force at now covers.
// It returns the violations with Exception set where one applied.
func (s Set) Apply(now time.Time, in *admission.Input, vs []policy.Violation) []policy.Violation {
	if len(s) == 0 || len(vs) == 0 {
		return vs
	}
	ns, name := in.Request.Namespace, in.Name()
	images := imagesOf(in)
	for i := range vs {
		for _, e := range s {
			if e.Policy != vs[i].Policy || !now.Before(e.Expires) {
				continue
			}
			if len(e.Rules) > 0 && !slices.Contains(e.Rules, vs[i].Rule) {
				continue
			}
			if !matchAny(e.Namespaces, ns) || !matchAny(e.Names, name) || !allMatch(e.Images, images) {
				continue
			}
			vs[i].Exception = &policy.ExceptionRef{
				Source: e.Source, Justification: e.Justification, ApprovedBy: e.ApprovedBy,
				Expires: e.Expires.UTC().Format(time.RFC3339),
			}
			break
		}
	}
	return vs
}

// ExpiringWithin counts the exceptions still in force at now that expire
// within d.
func (s Set) ExpiringWithin(now time.Time, d time.Duration) int {
	n := 0
	for _, e := range s {
		if now.Before(e.Expires) && e.Expires.Sub(now) <= d {
			n++
		}
	}
	return n
}

// Note is the warning that tells a developer an exception let a violation
// through, and until when.
func Note(v policy.Violation) string {
	e := v.Exception
	return fmt.Sprintf("%s — waived by exception %s (approved by %s, expires %s: %s)", v.String(), e.Source, e.ApprovedBy, e.Expires, e.Justification)
}

// matchAny reports whether value matches one of the globs; no globs match
// everything.
func matchAny(globs []string, value string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, value); ok {
			return true
		}
	}
	return false
}

// allMatch reports whether every image matches one of the globs; no globs
// match everything, and an object without images matches nothing.
func allMatch(globs, images []string) bool {
	if len(globs) == 0 {
		return true
	}
	if len(images) == 0 {
		return false
	}
	for _, img := range images {
		if !matchAny(globs, img) {
			return false
		}
	}
	return true
}

func imagesOf(in *admission.Input) []string {
	var out []string
	for _, p := range in.Pods {
		for _, kind := range []string{"initContainers", "containers", "ephemeralContainers"} {
			list, _ := p.Spec[kind].([]any)
			for _, c := range list {
				if m, ok := c.(map[string]any); ok {
					if img, ok := m["image"].(string); ok {
						out = append(out, img)
					}
				}
			}
		}
	}
	return out
}
