package verify

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// FuzzPatternsAndReferences feeds arbitrary image patterns and image
// references to the rule matcher and to Verify with no registry in reach:
// nothing panics, an invalid reference is reported as invalid, and a
// pattern without wildcards covers exactly its own repository.
func FuzzPatternsAndReferences(f *testing.F) {
	for _, s := range [][2]string{
		{"ghcr.io/org/**", "ghcr.io/org/app:v1"},
		{"registry.example.com/team-a/*", "registry.example.com/team-a/app@sha256:0000000000000000000000000000000000000000000000000000000000000000"},
		{"nginx", "nginx"},
		{"localhost:5000/a", "localhost:5000/a:1"},
		{"*", "Bad Ref"},
		{"docker.io/**", "busybox:latest"},
	} {
		f.Add(s[0], s[1])
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, pattern, image string) {
		re, err := compilePattern(pattern)
		if err != nil {
			return
		}
		// The rule trusts a key that is never asked: images it covers would
		// need a registry, so only uncovered or invalid images are verified.
		v := New(&Policy{Rules: []*Rule{{Images: []string{pattern}, patterns: []*regexp.Regexp{re}}}, CacheSize: 1, Timeout: 1}, Options{})
		covered := v.Covers(image)
		ref, perr := name.ParseReference(image)
		if perr != nil {
			if covered {
				t.Fatalf("invalid reference %q is covered", image)
			}
			if r := v.Verify(ctx, image, Pull{}); r.Outcome != Invalid {
				t.Fatalf("invalid reference %q: outcome %s", image, r.Outcome)
			}
			return
		}
		if !covered {
			if r := v.Verify(ctx, image, Pull{}); r.Outcome != Unmatched {
				t.Fatalf("uncovered %q: outcome %s", image, r.Outcome)
			}
		}
		if !strings.Contains(pattern, "*") {
			repo, err := name.NewRepository(pattern)
			if err == nil && repo.Name() == ref.Context().Name() && !covered {
				t.Fatalf("literal pattern %q does not cover its own repository in %q", pattern, image)
			}
		}
	})
}
