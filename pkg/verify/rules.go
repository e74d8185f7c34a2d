// Package verify checks container image signatures with cosign: which rule
// covers an image, whether a key or identity that rule trusts signed the
// image's digest, and the digest a tag points to (for pinning). Results are
// facts for the image-signature Rego policy, which turns them into
// violations; this package never decides admission itself.
package verify

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"
)

// PolicyID is the id of the Rego policy these facts are for; its options
// configure the verifier.
const PolicyID = "image-signature"

// Unmatched settings: what happens to an image no rule covers.
const (
	UnmatchedDeny  = "deny"
	UnmatchedAllow = "allow"
	UnmatchedWarn  = "warn"
)

// Policy is the validated configuration of the image-signature policy.
type Policy struct {
	Rules     []*Rule
	Unmatched string
	Timeout   time.Duration
	CacheTTL  time.Duration
	CacheSize int
	// TagCacheTTL is how long the mutating webhook reuses the digest a tag
	// resolved to (0: never; see Verifier.Resolve).
	TagCacheTTL time.Duration
}

// Rule trusts some keys or a keyless identity for the images it covers.
type Rule struct {
	Index    int
	Images   []string
	patterns []*regexp.Regexp
	Keys     []*Key
	KeyRef   *KeyRef
	Tlog     bool
	Keyless  *Keyless
	// trusted holds the Rekor (and, for keyless, Fulcio and CT) keys that
	// let tlog and keyless verification run offline.
	trusted root.TrustedMaterial
}

// Key is a public key a rule trusts.
type Key struct {
	Name     string // what the admin wrote: a path, a KMS URI or "inline key #N"
	SignWith string // what to pass to cosign sign --key
	Verifier signature.Verifier
}

// KeyRef is a public key kept in a Kubernetes Secret.
type KeyRef struct {
	Namespace, Name, Key string
}

func (k *KeyRef) String() string {
	return fmt.Sprintf("k8s://%s/%s (key %s)", k.Namespace, k.Name, k.Key)
}

// Keyless trusts certificates from a Fulcio-style CA in a trusted root for
// an OIDC issuer and subject.
type Keyless struct {
	Issuer, IssuerRegExp, Subject, SubjectRegExp string
	TrustedRoot                                  string
	RequireSCT                                   bool
}

func (k *Keyless) String() string {
	var parts []string
	if k.Issuer != "" {
		parts = append(parts, "issuer="+k.Issuer)
	}
	if k.IssuerRegExp != "" {
		parts = append(parts, "issuer~="+k.IssuerRegExp)
	}
	if k.Subject != "" {
		parts = append(parts, "subject="+k.Subject)
	}
	if k.SubjectRegExp != "" {
		parts = append(parts, "subject~="+k.SubjectRegExp)
	}
	return "identity " + strings.Join(parts, " ")
}

// Trusts describes, for a person, what the rule trusts.
func (r *Rule) Trusts() []string {
	var out []string
	for _, k := range r.Keys {
		out = append(out, "key "+k.Name)
	}
	if r.KeyRef != nil {
		out = append(out, "key "+r.KeyRef.String())
	}
	if r.Keyless != nil {
		out = append(out, r.Keyless.String())
	}
	return out
}

// SignKey is a --key argument for cosign sign, "" for keyless rules.
func (r *Rule) SignKey() string {
	if len(r.Keys) > 0 {
		return r.Keys[0].SignWith
	}
	if r.KeyRef != nil {
		return fmt.Sprintf("k8s://%s/%s", r.KeyRef.Namespace, r.KeyRef.Name)
	}
	return ""
}

// Covers reports whether the rule covers the repository name (as
// Repository.Name() spells it: index.docker.io/library/nginx).
func (r *Rule) Covers(repo string) bool {
	for _, p := range r.patterns {
		if p.MatchString(repo) {
			return true
		}
	}
	return false
}

// ConfigError names the option at fault.
type ConfigError struct {
	Key string // e.g. rules[0].keys[1]
	Err error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("policies.%s.%s: %v", PolicyID, e.Key, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

func bad(key string, format string, args ...any) error {
	return &ConfigError{Key: key, Err: fmt.Errorf(format, args...)}
}

// ParsePolicy validates the policy's options (as the config read them, with
// defaults filled in): patterns compile, keys load, trusted roots parse,
// durations are positive. KMS keys are looked up with ctx.
func ParsePolicy(ctx context.Context, options map[string]any) (*Policy, error) {
	p := &Policy{Unmatched: UnmatchedDeny, Timeout: 3 * time.Second, CacheTTL: 10 * time.Minute, CacheSize: 10000, TagCacheTTL: 30 * time.Second}
	if s, ok := options["unmatched"].(string); ok && s != "" {
		p.Unmatched = s
	}
	if !slices.Contains([]string{UnmatchedDeny, UnmatchedAllow, UnmatchedWarn}, p.Unmatched) {
		return nil, bad("unmatched", "%q is not one of deny, allow, warn", p.Unmatched)
	}
	for key, dst := range map[string]*time.Duration{"timeout": &p.Timeout, "cacheTTL": &p.CacheTTL} {
		s, ok := options[key].(string)
		if !ok || s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, bad(key, "%q is not a positive duration such as 3s", s)
		}
		*dst = d
	}
	if s, ok := options["tagCacheTTL"].(string); ok && s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, bad("tagCacheTTL", "%q is not a duration such as 30s (0s turns the tag cache off)", s)
		}
		p.TagCacheTTL = d
	}
	if n, ok := options["cacheSize"].(int); ok {
		if n < 1 {
			return nil, bad("cacheSize", "must be at least 1, got %d", n)
		}
		p.CacheSize = n
	}
	rules, _ := options["rules"].([]any)
	for i, raw := range rules {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, bad(fmt.Sprintf("rules[%d]", i), "expected a map")
		}
		r, err := parseRule(ctx, i, m)
		if err != nil {
			return nil, err
		}
		p.Rules = append(p.Rules, r)
	}
	return p, nil
}

var ruleKeys = []string{"images", "keys", "keyRef", "tlog", "keyless", "trustedRoot"}

func parseRule(ctx context.Context, i int, m map[string]any) (*Rule, error) {
	at := func(k string) string { return fmt.Sprintf("rules[%d].%s", i, k) }
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(ruleKeys, k) {
			return nil, bad(fmt.Sprintf("rules[%d].%s", i, k), "unknown key (known keys: %s)", strings.Join(ruleKeys, ", "))
		}
	}
	r := &Rule{Index: i, Tlog: true}
	images, err := stringList(m["images"])
	if err != nil {
		return nil, bad(at("images"), "%v", err)
	}
	if len(images) == 0 {
		return nil, bad(at("images"), "a rule needs at least one image pattern")
	}
	for j, img := range images {
		re, err := compilePattern(img)
		if err != nil {
			return nil, bad(fmt.Sprintf("%s[%d]", at("images"), j), "%v", err)
		}
		r.Images = append(r.Images, img)
		r.patterns = append(r.patterns, re)
	}
	if v, ok := m["tlog"]; ok {
		b, ok := v.(bool)
		if !ok {
			return nil, bad(at("tlog"), "expected true or false")
		}
		r.Tlog = b
	}
	keys, err := stringList(m["keys"])
	if err != nil {
		return nil, bad(at("keys"), "%v", err)
	}
	inline := 0
	for j, k := range keys {
		key, err := loadKey(ctx, k, &inline)
		if err != nil {
			return nil, bad(fmt.Sprintf("%s[%d]", at("keys"), j), "%v", err)
		}
		r.Keys = append(r.Keys, key)
	}
	if v, ok := m["keyRef"]; ok && v != nil {
		ref, err := parseKeyRef(v)
		if err != nil {
			return nil, bad(at("keyRef"), "%v", err)
		}
		r.KeyRef = ref
	}
	trustedRoot, _ := m["trustedRoot"].(string)
	if v, ok := m["trustedRoot"]; ok && v != nil {
		if _, ok := v.(string); !ok {
			return nil, bad(at("trustedRoot"), "expected a file path")
		}
	}
	if v, ok := m["keyless"]; ok && v != nil {
		kl, err := parseKeyless(v, trustedRoot)
		if err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				ce.Key = at("keyless." + ce.Key)
				return nil, ce
			}
			return nil, bad(at("keyless"), "%v", err)
		}
		r.Keyless = kl
		trustedRoot = kl.TrustedRoot
	}
	if len(r.Keys) == 0 && r.KeyRef == nil && r.Keyless == nil {
		return nil, bad(fmt.Sprintf("rules[%d]", i), "a rule must trust something: set keys, keyRef or keyless")
	}
	if r.Keyless != nil && (len(r.Keys) > 0 || r.KeyRef != nil) {
		return nil, bad(fmt.Sprintf("rules[%d]", i), "a rule trusts keys or a keyless identity, not both: split it into two rules")
	}
	if trustedRoot != "" {
		tr, err := root.NewTrustedRootFromPath(trustedRoot)
		if err != nil {
			key := at("trustedRoot")
			if r.Keyless != nil && r.Keyless.TrustedRoot != "" {
				key = at("keyless.trustedRoot")
			}
			return nil, bad(key, "%v", err)
		}
		r.trusted = tr
	}
	if r.Tlog && r.trusted == nil {
		return nil, bad(at("tlog"), "is true (the default), which needs the Rekor public keys to check inclusion offline: set rules[%d].trustedRoot to a trusted_root.json, or tlog: false", i)
	}
	if r.Keyless != nil && r.trusted == nil {
		return nil, bad(at("keyless.trustedRoot"), "keyless verification needs a trusted_root.json (microguard never fetches one at run time)")
	}
	return r, nil
}

func parseKeyless(v any, ruleRoot string) (*Keyless, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("expected a map with issuer, subject (or issuerRegExp, subjectRegExp) and trustedRoot")
	}
	known := []string{"issuer", "issuerRegExp", "subject", "subjectRegExp", "trustedRoot", "requireSCT"}
	k := &Keyless{RequireSCT: true, TrustedRoot: ruleRoot}
	for _, key := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(known, key) {
			return nil, bad(key, "unknown key (known keys: %s)", strings.Join(known, ", "))
		}
		if key == "requireSCT" {
			b, ok := m[key].(bool)
			if !ok {
				return nil, bad(key, "expected true or false")
			}
			k.RequireSCT = b
			continue
		}
		s, ok := m[key].(string)
		if !ok || s == "" {
			return nil, bad(key, "expected a non-empty string")
		}
		switch key {
		case "issuer":
			k.Issuer = s
		case "issuerRegExp":
			k.IssuerRegExp = s
		case "subject":
			k.Subject = s
		case "subjectRegExp":
			k.SubjectRegExp = s
		case "trustedRoot":
			k.TrustedRoot = s
		}
		if strings.HasSuffix(key, "RegExp") {
			if _, err := regexp.Compile(s); err != nil {
				return nil, bad(key, "%v", err)
			}
		}
	}
	if k.Issuer == "" && k.IssuerRegExp == "" {
		return nil, bad("issuer", "set issuer or issuerRegExp: the OIDC issuer whose identities are trusted")
	}
	if k.Subject == "" && k.SubjectRegExp == "" {
		return nil, bad("subject", "set subject or subjectRegExp: the identity (e-mail or workflow URI) that must have signed")
	}
	return k, nil
}

func parseKeyRef(v any) (*KeyRef, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("expected a map with namespace, name and key")
	}
	ref := &KeyRef{Key: "cosign.pub"}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, ok := m[k].(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s: expected a non-empty string", k)
		}
		switch k {
		case "namespace":
			ref.Namespace = s
		case "name":
			ref.Name = s
		case "key":
			ref.Key = s
		default:
			return nil, fmt.Errorf("%s: unknown key (known keys: namespace, name, key)", k)
		}
	}
	if ref.Namespace == "" || ref.Name == "" {
		return nil, errors.New("namespace and name of the Secret are required")
	}
	return ref, nil
}

func stringList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	items, ok := v.([]any)
	if !ok {
		return nil, errors.New("expected a list of strings")
	}
	out := make([]string, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("[%d]: expected a non-empty string", i)
		}
		out[i] = s
	}
	return out, nil
}

// loadKey reads a PEM public key: inline, from a file, or from a KMS
// provider compiled into this binary (a URI such as hashivault://name).
func loadKey(ctx context.Context, ref string, inline *int) (*Key, error) {
	if strings.HasPrefix(strings.TrimSpace(ref), "-----BEGIN") {
		*inline++
		v, fp, err := pemVerifier([]byte(ref))
		if err != nil {
			return nil, err
		}
		return &Key{Name: fmt.Sprintf("inline key #%d (%s)", *inline, fp), SignWith: "<the private key of inline key " + fp + ">", Verifier: v}, nil
	}
	if scheme, _, ok := strings.Cut(ref, "://"); ok {
		sv, err := kms.Get(ctx, ref, crypto.SHA256)
		if err != nil {
			var pnf *kms.ProviderNotFoundError
			if errors.As(err, &pnf) {
				return nil, fmt.Errorf("no KMS provider for %q in this build (keys are PEM files, inline PEM, or keyRef)", scheme)
			}
			return nil, fmt.Errorf("loading KMS key: %w", err)
		}
		return &Key{Name: ref, SignWith: ref, Verifier: sv}, nil
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		return nil, err
	}
	v, _, err := pemVerifier(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return &Key{Name: ref, SignWith: "<the private key of " + ref + ">", Verifier: v}, nil
}

// pemVerifier loads an ECDSA, Ed25519 or RSA public key in PEM and returns
// a verifier and a short fingerprint.
func pemVerifier(data []byte) (signature.Verifier, string, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(data)
	if err != nil {
		return nil, "", fmt.Errorf("not a PEM public key: %w", err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, "", err
	}
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(der)
	return v, "sha256:" + hex.EncodeToString(sum[:])[:16], nil
}

// compilePattern turns an image pattern into a regular expression over
// repository names: * matches within one path segment, ** across segments.
// Patterns without a registry host mean Docker Hub, as image names do.
func compilePattern(p string) (*regexp.Regexp, error) {
	if strings.ContainsAny(p, "@") {
		return nil, errors.New("a pattern names repositories, without @digest")
	}
	norm := normalizeRepo(p)
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(norm); i++ {
		switch {
		case strings.HasPrefix(norm[i:], "**"):
			b.WriteString(".*")
			i++
		case norm[i] == '*':
			b.WriteString("[^/]*")
		default:
			b.WriteString(regexp.QuoteMeta(norm[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// normalizeRepo spells a repository pattern as go-containerregistry names
// repositories: docker.io and host-less names become index.docker.io, and
// single-segment Docker Hub names get library/.
func normalizeRepo(p string) string {
	host, rest, found := strings.Cut(p, "/")
	if !found || (!strings.ContainsAny(host, ".:") && host != "localhost" && !strings.Contains(host, "*")) {
		rest = p
		if !strings.Contains(rest, "/") && !strings.HasPrefix(rest, "*") {
			rest = "library/" + rest
		}
		return name.DefaultRegistry + "/" + rest
	}
	if host == "docker.io" || host == name.DefaultRegistry {
		host = name.DefaultRegistry
		if !strings.Contains(rest, "/") && !strings.HasPrefix(rest, "*") {
			rest = "library/" + rest // docker.io/nginx is docker.io/library/nginx
		}
	}
	return host + "/" + rest
}
