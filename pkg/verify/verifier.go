package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/authn"
	k8sauthn "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/sync/singleflight"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Outcome is what verification found out about one image.
type Outcome string

// The outcomes the image-signature policy renders.
const (
	// Verified: a key or identity the covering rule trusts signed the digest.
	Verified Outcome = "verified"
	// Unsigned: the digest has no signature at all.
	Unsigned Outcome = "unsigned"
	// Untrusted: signed, but by no key or identity the rule trusts.
	Untrusted Outcome = "untrusted"
	// Unreachable: the registry could not be asked (network, auth, timeout,
	// no such image); nothing is known about signatures.
	Unreachable Outcome = "unreachable"
	// Unmatched: no rule covers the image.
	Unmatched Outcome = "unmatched"
	// Invalid: the image is not a valid reference.
	Invalid Outcome = "invalid"
	// Unchanged: an UPDATE kept the image the object already had; it was
	// verified when it was admitted.
	Unchanged Outcome = "unchanged"
)

// Result is the verification of one image as written in a container.
type Result struct {
	Image     string
	Outcome   Outcome
	Reference string // repository@sha256:…, when the digest is known
	Rule      *Rule  // the covering rule, nil when none
	Error     string
}

// Document is the result as the image-signature policy reads it from
// input.imageVerification.
func (r Result) Document() map[string]any {
	d := map[string]any{"outcome": string(r.Outcome)}
	if r.Reference != "" {
		d["reference"] = r.Reference
	}
	if r.Error != "" {
		d["error"] = r.Error
	}
	if r.Rule != nil {
		d["rule"] = int64(r.Rule.Index) // the decoder's type for a JSON integer
		d["ruleImages"] = toAny(r.Rule.Images)
		d["trusts"] = toAny(r.Rule.Trusts())
		if k := r.Rule.SignKey(); k != "" {
			d["signKey"] = k
		}
	}
	return d
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Pull is where a pod pulls from: its namespace, service account and
// image pull secrets, whose credentials verification uses.
type Pull struct {
	Namespace      string
	ServiceAccount string
	PullSecrets    []string
}

// Verifier checks images against a Policy. It is safe for concurrent use.
type Verifier struct {
	policy  *Policy
	client  kubernetes.Interface // nil: no pull secrets, no keyRef
	log     logr.Logger
	metrics *Metrics
	now     func() time.Time

	cache    *cache[Result]
	inflight singleflight.Group
	// keys are the public keys of keyRef rules, by Secret and key, for
	// keyTTL; readingKeys holds one read per Secret in flight.
	keys        *cache[signature.Verifier]
	readingKeys singleflight.Group
	// tags are the digests tags resolved to, by pull context and tag, for
	// TagCacheTTL; resolving holds one registry look-up per key in flight.
	tags      *cache[name.Digest]
	resolving singleflight.Group
	// keychains are pull credentials read from the cluster, by pull
	// context, for keychainTTL; reading holds one read per key in flight.
	keychains *cache[authn.Keychain]
	reading   singleflight.Group
	// remoteOpts are extra go-containerregistry options (tests pass a
	// transport).
	remoteOpts []remote.Option
	// refs are the image strings parsed lately.
	refs *refCache
}

// Options are a Verifier's collaborators; all may be zero.
type Options struct {
	// Client reads pull secrets, service accounts and keyRef Secrets. Without
	// it, registries are asked with the local docker credentials or anonymously.
	Client  kubernetes.Interface
	Log     logr.Logger
	Metrics *Metrics
	// Transport replaces the HTTP transport to registries.
	Transport http.RoundTripper
}

// New builds a verifier for a parsed policy.
func New(p *Policy, o Options) *Verifier {
	v := &Verifier{policy: p, client: o.Client, log: o.Log, metrics: o.Metrics, now: time.Now}
	v.cache = newCache[Result](p.CacheSize)
	v.tags = newCache[name.Digest](p.CacheSize)
	v.keychains = newCache[authn.Keychain](p.CacheSize)
	v.refs = newRefCache(refCacheSize, refCacheMaxLen)
	v.keys = newCache[signature.Verifier](p.CacheSize)
	if o.Transport != nil {
		v.remoteOpts = append(v.remoteOpts, remote.WithTransport(o.Transport))
	}
	return v
}

// Policy is the policy the verifier enforces.
func (v *Verifier) Policy() *Policy { return v.policy }

// rule returns the first rule covering the repository.
func (v *Verifier) rule(repo string) *Rule {
	for _, r := range v.policy.Rules {
		if r.Covers(repo) {
			return r
		}
	}
	return nil
}

// Covers reports whether a rule covers the image.
func (v *Verifier) Covers(image string) bool {
	p, err := v.refs.parse(image)
	return err == nil && v.rule(p.repo) != nil
}

// VerifyAll verifies distinct images concurrently; each is verified once
// however many containers use it. Images answered without the registry
// (invalid, unmatched, a cached verdict), and a single image that needs it,
// are verified without starting a goroutine.
func (v *Verifier) VerifyAll(ctx context.Context, images []string, pull Pull) map[string]Result {
	out := make(map[string]Result, len(images))
	var pending []pendingImage
	seen := make(map[string]bool, len(images))
	for _, img := range images {
		if seen[img] {
			continue
		}
		seen[img] = true
		if p, r, done := v.prepare(img); done {
			out[img] = v.count(r)
		} else {
			pending = append(pending, p)
		}
	}
	if len(pending) == 1 {
		out[pending[0].image] = v.finish(ctx, pending[0], pull)
		return out
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range pending {
		wg.Go(func() {
			r := v.finish(ctx, p, pull)
			mu.Lock()
			out[p.image] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// Verify checks one image as written in a container.
func (v *Verifier) Verify(ctx context.Context, image string, pull Pull) Result {
	p, r, done := v.prepare(image)
	if done {
		return v.count(r)
	}
	return v.finish(ctx, p, pull)
}

// pendingImage is an image whose verification needs the registry (or a
// verification in flight): a tag, or a digest whose verdict is not cached.
type pendingImage struct {
	image string
	ref   name.Reference
	rule  *Rule
	key   string // verifyKey, for a digest; its cache lookup was a miss
}

// prepare does the part of Verify that needs no registry and no timeout:
// parsing the image, finding its rule and, for a digest, looking up its
// cached verdict (counted as a cache hit or miss). done means the result,
// not yet counted, is final.
func (v *Verifier) prepare(image string) (p pendingImage, r Result, done bool) {
	ref, err := v.refs.parse(image)
	if err != nil {
		return p, Result{Image: image, Outcome: Invalid, Error: err.Error()}, true
	}
	rule := v.rule(ref.repo)
	if rule == nil {
		return p, Result{Image: image, Outcome: Unmatched}, true
	}
	p = pendingImage{image: image, ref: ref.ref, rule: rule}
	if _, ok := ref.ref.(name.Digest); ok {
		p.key = ruleKey(rule, ref.name)
		if r, ok := v.cached(p.key); ok {
			r.Image = image
			return p, r, true
		}
	}
	return p, Result{}, false
}

// finish verifies a prepared image within the policy's timeout and counts
// the result.
func (v *Verifier) finish(ctx context.Context, p pendingImage, pull Pull) Result {
	ctx, cancel := context.WithTimeout(ctx, v.policy.Timeout)
	defer cancel()
	var r Result
	if d, ok := p.ref.(name.Digest); ok {
		r = v.verifyUncached(ctx, p.key, d, p.rule, pull)
	} else {
		digest, err := v.digest(ctx, p.ref, pull)
		if err != nil {
			return v.count(Result{Image: p.image, Outcome: Unreachable, Rule: p.rule, Error: v.describe(ctx, err)})
		}
		r = v.verifyDigest(ctx, digest, p.rule, pull)
	}
	r.Image = p.image
	return v.count(r)
}

// Resolve returns the image pinned to the digest its tag points to
// (repo:tag@sha256:…), or "" when the image is already pinned, invalid, or
// not under a rule. A registry error is returned for the caller to log.
//
// The digest comes from the tag cache when the same tag was resolved for
// the same pull context (namespace, service account, pull secrets) less
// than TagCacheTTL ago and that digest verifies under the image's rule (a
// cached verdict, or the verification in flight): a Deployment scaling up
// costs one registry round trip, not one per pod. This is safe because
// pinning is not trusting: the validating webhook verifies the signature of
// whatever digest the pod names. A stale mapping at worst pins the digest
// the tag pointed to up to TagCacheTTL ago, which is still verified. Registry
// errors are never cached, and a tag whose digest does not verify (unsigned,
// untrusted, unreachable) is resolved again, so a fixed image pushed to the
// tag is picked up on the next try. Verify always resolves tags afresh.
func (v *Verifier) Resolve(ctx context.Context, image string, pull Pull) (string, error) {
	p, err := v.refs.parse(image)
	if err != nil {
		return "", nil
	}
	ref := p.ref
	if _, ok := ref.(name.Digest); ok {
		return "", nil
	}
	rule := v.rule(p.repo)
	if rule == nil {
		return "", nil
	}
	key := pull.key() + "|" + p.name
	// A cached tag whose cached verdict is verified needs no timeout.
	d, tagged := v.tags.get(key, v.now())
	var vkey string
	var known bool
	if tagged {
		vkey = verifyKey(rule, d)
		var r Result
		if r, known = v.cached(vkey); known && r.Outcome == Verified {
			return image + "@" + d.DigestStr(), nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, v.policy.Timeout)
	defer cancel()
	if tagged && !known {
		if r := v.verifyUncached(ctx, vkey, d, rule, pull); r.Outcome == Verified {
			return image + "@" + d.DigestStr(), nil
		}
	}
	var rejected name.Digest // the cached digest that did not verify
	if tagged {
		rejected = d
	}
	d, err = v.resolveTag(ctx, key, ref, pull, rejected)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %s", image, v.describe(ctx, err))
	}
	// Start verifying now: the validating webhook that follows finds the
	// result in the cache, or joins the verification in flight.
	go v.verifyDigest(context.WithoutCancel(ctx), d, rule, pull)
	return image + "@" + d.DigestStr(), nil
}

// resolveTag asks the registry for the digest the tag points to, one
// request per key in flight, and remembers it in the tag cache. A flight
// that ended since the caller's look-up has cached a digest just resolved:
// that one is taken, unless it is the digest rejected (cached before, and
// not verified), which is resolved again.
func (v *Verifier) resolveTag(ctx context.Context, key string, ref name.Reference, pull Pull, rejected name.Digest) (name.Digest, error) {
	return shared(ctx, &v.resolving, key, v.policy.Timeout, func(rctx context.Context) (name.Digest, error) {
		if d, ok := v.tags.get(key, v.now()); ok && d.DigestStr() != rejected.DigestStr() {
			return d, nil
		}
		d, err := v.digest(rctx, ref, pull)
		if err != nil {
			return name.Digest{}, err
		}
		if v.policy.TagCacheTTL > 0 {
			v.tags.put(key, d, v.now().Add(v.policy.TagCacheTTL))
		}
		return d, nil
	})
}

// shared runs fn once per key in flight: callers that come while it runs
// wait for its result. fn runs detached from the caller's context, since
// others may be waiting on its result, within timeout; a caller whose
// context ends first gets that context's error. A flight that ended just
// before it started may have cached what fn would fetch: fn looks first.
func shared[T any](ctx context.Context, g *singleflight.Group, key string, timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	ch := g.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return fn(fctx)
	})
	var zero T
	select {
	case res := <-ch:
		if res.Err != nil {
			return zero, res.Err
		}
		return res.Val.(T), nil
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// digest is the digest the reference names or the tag points to now.
func (v *Verifier) digest(ctx context.Context, ref name.Reference, pull Pull) (name.Digest, error) {
	if d, ok := ref.(name.Digest); ok {
		return d, nil
	}
	opts, err := v.remote(ctx, pull)
	if err != nil {
		return name.Digest{}, err
	}
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return name.Digest{}, err
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

// remote are the registry options for one pull context.
func (v *Verifier) remote(ctx context.Context, pull Pull) ([]remote.Option, error) {
	kc, err := v.keychain(ctx, pull)
	if err != nil {
		return nil, fmt.Errorf("reading pull secrets of namespace %s: %w", pull.Namespace, err)
	}
	return append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}, v.remoteOpts...), nil
}

// keychainTTL is how long pull credentials read from the cluster are
// reused. Reading them costs a GET of the service account and one per pull
// secret, through the client's rate limiter (client-go allows 5 a second by
// default): read for every request, they queued there until the timeout.
// A pull secret created or rotated now is used within keychainTTL.
const keychainTTL = 10 * time.Second

// keychain is the pull context's credentials: its pull secrets and its
// service account's, or the local docker credentials without a cluster.
// Errors are not cached.
func (v *Verifier) keychain(ctx context.Context, pull Pull) (authn.Keychain, error) {
	if v.client == nil {
		return authn.DefaultKeychain, nil
	}
	key := pull.key()
	if kc, ok := v.keychains.get(key, v.now()); ok {
		return kc, nil
	}
	return shared(ctx, &v.reading, key, v.policy.Timeout, func(rctx context.Context) (authn.Keychain, error) {
		// A read that ended since the cache miss above has cached them.
		if kc, ok := v.keychains.get(key, v.now()); ok {
			return kc, nil
		}
		kc, err := k8sauthn.New(rctx, v.client, k8sauthn.Options{
			Namespace: pull.Namespace, ServiceAccountName: pull.ServiceAccount, ImagePullSecrets: pull.PullSecrets,
		})
		if err != nil {
			return nil, err
		}
		v.keychains.put(key, kc, v.now().Add(keychainTTL))
		return kc, nil
	})
}

// key identifies the pull context in caches.
func (p Pull) key() string {
	return p.Namespace + "\x00" + p.ServiceAccount + "\x00" + strings.Join(p.PullSecrets, ",")
}

// verifyKey is the cache key of a digest's verification under a rule.
func verifyKey(rule *Rule, d name.Digest) string {
	return ruleKey(rule, d.Name())
}

// ruleKey is verifyKey for the digest's name (d.Name()).
func ruleKey(rule *Rule, digestName string) string {
	return strconv.Itoa(rule.Index) + "|" + digestName
}

// verifyDigest verifies a digest under a rule, through the cache and with
// one verification in flight per (rule, digest). Its result is counted by
// Verify: a verification started ahead by Resolve is not a decision.
func (v *Verifier) verifyDigest(ctx context.Context, d name.Digest, rule *Rule, pull Pull) Result {
	key := verifyKey(rule, d)
	if r, ok := v.cached(key); ok {
		return r
	}
	return v.verifyUncached(ctx, key, d, rule, pull)
}

// cached looks up a verdict by verifyKey and counts the hit or miss.
func (v *Verifier) cached(key string) (Result, bool) {
	r, ok := v.cache.get(key, v.now())
	v.metrics.cache(ok)
	return r, ok
}

// verifyUncached is verifyDigest after its cache lookup (by key) missed.
func (v *Verifier) verifyUncached(ctx context.Context, key string, d name.Digest, rule *Rule, pull Pull) Result {
	r, err := shared(ctx, &v.inflight, key, v.policy.Timeout, func(vctx context.Context) (Result, error) {
		// A flight that ended between the caller's cache miss and this
		// call has cached its verdict: take it rather than verify again.
		if r, ok := v.cache.get(key, v.now()); ok {
			return r, nil
		}
		start := v.now()
		r := v.check(vctx, d, rule, pull)
		v.metrics.observe(v.now().Sub(start))
		switch r.Outcome {
		case Verified:
			v.cache.put(key, r, v.now().Add(v.policy.CacheTTL))
		case Unsigned, Untrusted:
			// A signature may be pushed any moment: remember the failure
			// only long enough to absorb a burst of retries.
			v.cache.put(key, r, v.now().Add(failureTTL))
		}
		return r, nil
	})
	if err != nil { // only the caller's context ends a wait with an error
		return Result{Outcome: Unreachable, Reference: d.Name(), Rule: rule, Error: v.describe(ctx, err)}
	}
	return r
}

// failureTTL is how long an unsigned or untrusted verdict is remembered.
const failureTTL = 5 * time.Second

// check asks the registry for the digest's signatures and verifies them
// against each thing the rule trusts until one matches.
func (v *Verifier) check(ctx context.Context, d name.Digest, rule *Rule, pull Pull) Result {
	res := Result{Reference: d.Name(), Rule: rule}
	opts, err := v.remote(ctx, pull)
	if err != nil {
		res.Outcome, res.Error = Unreachable, err.Error()
		return res
	}
	base := cosign.CheckOpts{
		RegistryClientOpts: []ociremote.Option{ociremote.WithRemoteOptions(opts...)},
		ClaimVerifier:      cosign.SimpleClaimVerifier,
		IgnoreTlog:         !rule.Tlog,
		Offline:            true,
	}
	if rule.Tlog {
		base.TrustedMaterial = rule.trusted
	}
	var attempts []cosign.CheckOpts
	for _, k := range rule.Keys {
		co := base
		co.SigVerifier = k.Verifier
		attempts = append(attempts, co)
	}
	if rule.KeyRef != nil {
		sv, err := v.secretKey(ctx, *rule.KeyRef)
		if err != nil {
			res.Outcome, res.Error = Unreachable, err.Error()
			return res
		}
		co := base
		co.SigVerifier = sv
		attempts = append(attempts, co)
	}
	if kl := rule.Keyless; kl != nil {
		co := base
		co.TrustedMaterial = rule.trusted
		co.Identities = []cosign.Identity{{Issuer: kl.Issuer, IssuerRegExp: kl.IssuerRegExp, Subject: kl.Subject, SubjectRegExp: kl.SubjectRegExp}}
		co.IgnoreSCT = !kl.RequireSCT
		attempts = append(attempts, co)
	}
	var errs []string
	unsigned := true
	for _, co := range attempts {
		_, _, err := cosign.VerifyImageSignatures(ctx, d, &co)
		if err == nil {
			res.Outcome = Verified
			return res
		}
		var none *cosign.ErrNoSignaturesFound
		var nomatch *cosign.ErrNoMatchingSignatures
		switch {
		case errors.As(err, &none):
		case errors.As(err, &nomatch):
			unsigned = false
			errs = append(errs, explain(oneLine(err.Error()), rule))
		default:
			res.Outcome, res.Error = Unreachable, v.describe(ctx, err)
			return res
		}
	}
	if unsigned {
		res.Outcome = Unsigned
		return res
	}
	res.Outcome, res.Error = Untrusted, strings.Join(slices.Compact(errs), "; ")
	return res
}

// describe turns a registry error into one line a developer can act on.
func (v *Verifier) describe(ctx context.Context, err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("the registry did not answer within %s (policies.%s.timeout)", v.policy.Timeout, PolicyID)
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusNotFound:
			return "the registry has no such image or tag (404)"
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Sprintf("the registry refused access (%d): check the pod's imagePullSecrets or its service account's pull secrets", terr.StatusCode)
		}
	}
	return oneLine(err.Error())
}

// explain rewrites cosign's terse failures into what to do about them.
func explain(msg string, rule *Rule) string {
	if strings.Contains(msg, "offline verification failed") {
		return strings.Replace(msg, "offline verification failed", fmt.Sprintf(
			"the signature carries no transparency log (Rekor) bundle, which rules[%d] requires (tlog: true): sign with cosign's default --tlog-upload=true", rule.Index), 1)
	}
	return msg
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// count records the result in the metrics and returns it.
func (v *Verifier) count(r Result) Result {
	v.metrics.result(r.Outcome)
	return r
}

// keyTTL is how long a public key read from a keyRef Secret is used: a
// rotated key is picked up within it, without a restart.
const keyTTL = time.Minute

// secretKey is the public key of a keyRef rule, read from its Secret at
// most once per keyTTL and once per flight: verifications of different
// images under one keyRef rule, started together, wait for the same read.
// Errors are not cached.
func (v *Verifier) secretKey(ctx context.Context, ref KeyRef) (signature.Verifier, error) {
	key := ref.String()
	if sv, ok := v.keys.get(key, v.now()); ok {
		return sv, nil
	}
	if v.client == nil {
		return nil, fmt.Errorf("key %s: no cluster access to read the Secret", key)
	}
	return shared(ctx, &v.readingKeys, key, v.policy.Timeout, func(rctx context.Context) (signature.Verifier, error) {
		// A read that ended since the cache miss above has cached it.
		if sv, ok := v.keys.get(key, v.now()); ok {
			return sv, nil
		}
		sec, err := v.client.CoreV1().Secrets(ref.Namespace).Get(rctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("key %s: the Secret does not exist", key)
		}
		if err != nil {
			return nil, fmt.Errorf("key %s: reading the Secret: %w", key, err)
		}
		data, ok := sec.Data[ref.Key]
		if !ok {
			return nil, fmt.Errorf("key %s: the Secret has no key %q", key, ref.Key)
		}
		sv, _, err := pemVerifier(data)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", key, err)
		}
		v.keys.put(key, sv, v.now().Add(keyTTL))
		return sv, nil
	})
}
