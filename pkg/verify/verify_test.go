package verify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/prometheus/client_golang/prometheus/testutil"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/microguard/microguard/pkg/verify/verifytest"
)

// world is a registry with images signed in every way the tests need.
type world struct {
	reg                        *verifytest.Registry
	keyA, keyB, keyEd, keyRSA  *verifytest.Signer
	keyAPath, edPath, rsaPath  string
	rootPath                   string
	ca, otherCA                *verifytest.CA
	signedA, signedEd, signedR name.Digest
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{reg: verifytest.StartRegistry(t)}
	w.keyA, w.keyB = verifytest.NewKey(t, "ecdsa"), verifytest.NewKey(t, "ecdsa")
	w.keyEd, w.keyRSA = verifytest.NewKey(t, "ed25519"), verifytest.NewKey(t, "rsa")
	w.keyAPath = w.keyA.WritePublicKey(t, dir, "team-a.pub")
	w.edPath = w.keyEd.WritePublicKey(t, dir, "ed.pub")
	w.rsaPath = w.keyRSA.WritePublicKey(t, dir, "rsa.pub")
	w.ca, w.otherCA = verifytest.NewCA(t), verifytest.NewCA(t)
	w.rootPath = w.ca.WriteTrustedRoot(t, dir)
	w.signedA = w.reg.Push(t, "team-a/app", "v1")
	verifytest.Sign(t, w.signedA, w.keyA)
	w.signedEd = w.reg.Push(t, "team-ed/app", "v1")
	verifytest.Sign(t, w.signedEd, w.keyEd)
	w.signedR = w.reg.Push(t, "team-rsa/app", "v1")
	verifytest.Sign(t, w.signedR, w.keyRSA)
	return w
}

const (
	issuer  = "https://token.actions.githubusercontent.com"
	subject = "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main"
)

func (w *world) policy(t *testing.T, extra map[string]any) *Policy {
	t.Helper()
	h := w.reg.Host
	opts := map[string]any{
		"unmatched": "deny",
		"rules": []any{
			map[string]any{"images": []any{h + "/team-a/*"}, "keys": []any{w.keyAPath}, "tlog": false},
			map[string]any{"images": []any{h + "/team-ed/**"}, "keys": []any{w.edPath}, "tlog": false},
			map[string]any{"images": []any{h + "/team-rsa/app"}, "keys": []any{string(w.keyRSA.PublicPEM)}, "tlog": false},
			map[string]any{"images": []any{h + "/keyless/**"}, "tlog": false, "keyless": map[string]any{
				"issuer": issuer, "subjectRegExp": `^https://github\.com/org/.*$`, "trustedRoot": w.rootPath, "requireSCT": false,
			}},
		},
	}
	for k, v := range extra {
		opts[k] = v
	}
	p, err := ParsePolicy(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifyOutcomes(t *testing.T) {
	w := newWorld(t)
	h := w.reg.Host

	unsigned := w.reg.Push(t, "team-a/unsigned", "v1")
	foreign := w.reg.Push(t, "team-a/foreign", "v1")
	verifytest.Sign(t, foreign, w.keyB)

	// A tag re-pointed after signing: v1 was signed, then v1 moved to an
	// image nobody signed.
	before := w.reg.Push(t, "team-a/moving", "v1")
	verifytest.Sign(t, before, w.keyA)
	w.reg.Push(t, "team-a/moving", "v1")

	// A signature copied from a signed image onto another image: the
	// signature is valid, but for a different digest.
	copied := w.reg.Push(t, "team-a/copied", "v1")
	copySignature(t, w.signedA, copied)

	keylessGood := w.reg.Push(t, "keyless/app", "v1")
	verifytest.Sign(t, keylessGood, w.ca.Issue(t, issuer, "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main"))
	keylessWrongSubject := w.reg.Push(t, "keyless/fork", "v1")
	verifytest.Sign(t, keylessWrongSubject, w.ca.Issue(t, issuer, "https://github.com/attacker/app/.github/workflows/release.yaml@refs/heads/main"))
	keylessWrongIssuer := w.reg.Push(t, "keyless/other-issuer", "v1")
	verifytest.Sign(t, keylessWrongIssuer, w.ca.Issue(t, "https://accounts.example.com", subject))
	keylessOtherCA := w.reg.Push(t, "keyless/other-ca", "v1")
	verifytest.Sign(t, keylessOtherCA, w.otherCA.Issue(t, issuer, subject))

	v := New(w.policy(t, nil), Options{})
	for _, tc := range []struct {
		name, image string
		want        Outcome
		rule        int // -1: none
		errHas      string
	}{
		{"ecdsa key, by tag", w.reg.Image("team-a/app", "v1"), Verified, 0, ""},
		{"ecdsa key, by digest", w.signedA.Name(), Verified, 0, ""},
		{"ecdsa key, tag and digest", h + "/team-a/app:v1@" + w.signedA.DigestStr(), Verified, 0, ""},
		{"ed25519 key", w.reg.Image("team-ed/app", "v1"), Verified, 1, ""},
		{"rsa key inline", w.reg.Image("team-rsa/app", "v1"), Verified, 2, ""},
		{"unsigned", unsigned.Name(), Unsigned, 0, ""},
		{"signed by another key", foreign.Name(), Untrusted, 0, "no matching signatures"},
		{"tag re-pointed after signing", w.reg.Image("team-a/moving", "v1"), Unsigned, 0, ""},
		{"digest signed before the tag moved", before.Name(), Verified, 0, ""},
		{"signature copied from another image", copied.Name(), Untrusted, 0, "no matching signatures"},
		{"keyless, trusted identity", keylessGood.Name(), Verified, 3, ""},
		{"keyless, subject of a fork", keylessWrongSubject.Name(), Untrusted, 3, "subject"},
		{"keyless, other issuer", keylessWrongIssuer.Name(), Untrusted, 3, "issuer"},
		{"keyless, certificate from another CA", keylessOtherCA.Name(), Untrusted, 3, "certificate"},
		{"no rule covers it", w.reg.Image("elsewhere/app", "v1"), Unmatched, -1, ""},
		{"* stays within one segment", w.reg.Image("team-a/nested/app", "v1"), Unmatched, -1, ""},
		{"no such tag", w.reg.Image("team-a/app", "missing"), Unreachable, 0, "404"},
		{"invalid reference", h + "/Team-A/App:v1", Invalid, -1, "could not parse reference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := v.Verify(context.Background(), tc.image, Pull{})
			if r.Outcome != tc.want {
				t.Fatalf("outcome %s (error %q), want %s", r.Outcome, r.Error, tc.want)
			}
			if got := ruleIndex(r); got != tc.rule {
				t.Errorf("rule %d, want %d", got, tc.rule)
			}
			if !strings.Contains(r.Error, tc.errHas) {
				t.Errorf("error %q does not mention %q", r.Error, tc.errHas)
			}
			if r.Image != tc.image {
				t.Errorf("image %q, want %q", r.Image, tc.image)
			}
			if tc.rule >= 0 && (r.Outcome != Unreachable) && !strings.Contains(r.Reference, "@sha256:") {
				t.Errorf("reference %q has no digest", r.Reference)
			}
		})
	}
}

func ruleIndex(r Result) int {
	if r.Rule == nil {
		return -1
	}
	return r.Rule.Index
}

// copySignature writes from's signature manifest as to's.
func copySignature(t *testing.T, from, to name.Digest) {
	t.Helper()
	src, err := ociremote.SignatureTag(from)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := ociremote.SignatureTag(to)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
}

func TestResolvePinsTagsUnderARule(t *testing.T) {
	w := newWorld(t)
	v := New(w.policy(t, nil), Options{})
	ctx := context.Background()
	got, err := v.Resolve(ctx, w.reg.Image("team-a/app", "v1"), Pull{})
	if err != nil {
		t.Fatal(err)
	}
	if want := w.reg.Image("team-a/app", "v1") + "@" + w.signedA.DigestStr(); got != want {
		t.Errorf("pinned %q, want %q", got, want)
	}
	for _, img := range []string{w.signedA.Name(), w.reg.Image("elsewhere/app", "v1"), "Bad Ref"} {
		if got, err := v.Resolve(ctx, img, Pull{}); got != "" || err != nil {
			t.Errorf("Resolve(%q) = %q, %v; want no change", img, got, err)
		}
	}
	if _, err := v.Resolve(ctx, w.reg.Image("team-a/app", "missing"), Pull{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("resolving a missing tag: %v, want a 404 error", err)
	}
}

func TestRegistryDown(t *testing.T) {
	w := newWorld(t)

	// A registry that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	hanging := ln.Addr().String()

	p, err := ParsePolicy(context.Background(), map[string]any{
		"timeout": "300ms",
		"rules": []any{
			map[string]any{"images": []any{hanging + "/**", w.reg.Host + "/**"}, "keys": []any{w.keyAPath}, "tlog": false},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	v := New(p, Options{})

	start := time.Now()
	r := v.Verify(context.Background(), hanging+"/team-a/app:v1", Pull{})
	if r.Outcome != Unreachable || !strings.Contains(r.Error, "did not answer within 300ms") {
		t.Errorf("hanging registry: %s %q, want unreachable with the timeout named", r.Outcome, r.Error)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("verification took %s with a 300ms timeout", took)
	}
	r = v.Verify(context.Background(), hanging+"/team-a/app@"+w.signedA.DigestStr(), Pull{})
	if r.Outcome != Unreachable {
		t.Errorf("hanging registry, by digest: %s, want unreachable", r.Outcome)
	}

	img := w.reg.Image("team-a/app", "v1")
	w.reg.Close()
	r = v.Verify(context.Background(), img, Pull{})
	if r.Outcome != Unreachable || !strings.Contains(r.Error, "connection refused") {
		t.Errorf("closed registry: %s %q, want unreachable, connection refused", r.Outcome, r.Error)
	}
}

// countingTransport counts requests for signature manifests and tag
// look-ups (HEAD of a manifest by tag).
type countingTransport struct {
	sigReads, tagHeads atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	_, ref, _ := strings.Cut(req.URL.Path, "/manifests/")
	switch {
	case strings.HasPrefix(ref, "sha256-"):
		c.sigReads.Add(1)
	case req.Method == http.MethodHead && ref != "" && !strings.HasPrefix(ref, "sha256:"):
		c.tagHeads.Add(1)
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestCacheAndSingleflight(t *testing.T) {
	w := newWorld(t)
	ct := &countingTransport{}
	v := New(w.policy(t, nil), Options{Transport: ct})
	ctx := context.Background()

	// Twenty containers of concurrent requests name the same image: one
	// verification goes to the registry.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := v.Verify(ctx, w.signedA.Name(), Pull{}); r.Outcome != Verified {
				t.Errorf("outcome %s %q", r.Outcome, r.Error)
			}
		}()
	}
	wg.Wait()
	if n := ct.sigReads.Load(); n != 1 {
		t.Errorf("%d signature reads for 20 concurrent verifications of one digest, want 1", n)
	}
	// VerifyAll verifies an image used by several containers once.
	res := v.VerifyAll(ctx, []string{w.signedEd.Name(), w.signedEd.Name(), w.signedEd.Name()}, Pull{})
	if len(res) != 1 || res[w.signedEd.Name()].Outcome != Verified {
		t.Errorf("VerifyAll: %+v", res)
	}
	if n := ct.sigReads.Load(); n != 2 {
		t.Errorf("%d signature reads after a second image, want 2", n)
	}

	// Within the TTL a verified digest is a cache hit; after it, it is
	// verified again.
	now := time.Now()
	v.now = func() time.Time { return now.Add(9 * time.Minute) }
	v.Verify(ctx, w.signedA.Name(), Pull{})
	if n := ct.sigReads.Load(); n != 2 {
		t.Errorf("a cached verification went to the registry (%d reads)", n)
	}
	v.now = func() time.Time { return now.Add(11 * time.Minute) }
	v.Verify(ctx, w.signedA.Name(), Pull{})
	if n := ct.sigReads.Load(); n != 3 {
		t.Errorf("an expired verification was not redone (%d reads, want 3)", n)
	}

	// A failure is remembered for seconds only: signing an image is
	// effective at once for the next retry after that.
	unsigned := w.reg.Push(t, "team-a/later", "v1")
	v.now = time.Now
	if r := v.Verify(ctx, unsigned.Name(), Pull{}); r.Outcome != Unsigned {
		t.Fatalf("outcome %s, want unsigned", r.Outcome)
	}
	verifytest.Sign(t, unsigned, w.keyA)
	if r := v.Verify(ctx, unsigned.Name(), Pull{}); r.Outcome != Unsigned {
		t.Errorf("within the failure TTL: %s, want the remembered unsigned", r.Outcome)
	}
	v.now = func() time.Time { return time.Now().Add(failureTTL + time.Second) }
	if r := v.Verify(ctx, unsigned.Name(), Pull{}); r.Outcome != Verified {
		t.Errorf("after the failure TTL: %s, want verified", r.Outcome)
	}
}

func TestCacheIsBounded(t *testing.T) {
	c := newCache[Result](3)
	now := time.Now()
	for _, k := range []string{"a", "b", "c"} {
		c.put(k, Result{Image: k}, now.Add(time.Hour))
	}
	c.get("a", now) // a is now the most recently used
	c.put("d", Result{Image: "d"}, now.Add(time.Hour))
	if c.len() != 3 {
		t.Fatalf("cache holds %d entries, bound is 3", c.len())
	}
	if _, ok := c.get("b", now); ok {
		t.Error("the least recently used entry survived")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.get(k, now); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
	if _, ok := c.get("a", now.Add(2*time.Hour)); ok {
		t.Error("an expired entry was returned")
	}
}

func TestMetrics(t *testing.T) {
	w := newWorld(t)
	m := NewMetrics()
	v := New(w.policy(t, nil), Options{Metrics: m})
	ctx := context.Background()
	unsigned := w.reg.Push(t, "team-a/unsigned", "v1")

	// Resolve starts a verification ahead of the validating webhook; only
	// the validating webhook's Verify is a result.
	if _, err := v.Resolve(ctx, w.reg.Image("team-a/app", "v1"), Pull{}); err != nil {
		t.Fatal(err)
	}
	v.Verify(ctx, w.reg.Image("team-a/app", "v1")+"@"+w.signedA.DigestStr(), Pull{})
	v.Verify(ctx, w.signedA.Name(), Pull{})
	v.Verify(ctx, unsigned.Name(), Pull{})
	v.Verify(ctx, w.reg.Image("elsewhere/app", "v1"), Pull{})

	for label, want := range map[string]float64{"verified": 2, "unsigned": 1, "unmatched": 1, "untrusted": 0} {
		if got := testutil.ToFloat64(m.results.WithLabelValues(label)); got != want {
			t.Errorf("verifications{result=%s} = %v, want %v", label, got, want)
		}
	}
	hits, misses := testutil.ToFloat64(m.cacheOps.WithLabelValues("hit")), testutil.ToFloat64(m.cacheOps.WithLabelValues("miss"))
	// signedA: one miss (Resolve's verification, or the first Verify joining
	// it) and at least one hit; unsigned: one miss.
	if misses < 2 || hits < 1 || hits+misses != 4 {
		t.Errorf("cache hits %v, misses %v; want 4 lookups with at least 1 hit and 2 misses", hits, misses)
	}
	if n := testutil.CollectAndCount(m.latency); n != 1 {
		t.Errorf("latency histogram has %d series, want 1", n)
	}
}

// clock is a settable time for the verifier's caches.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestTagCache(t *testing.T) {
	w := newWorld(t)
	ct := &countingTransport{}
	v := New(w.policy(t, nil), Options{Transport: ct})
	clk := &clock{t: time.Now()}
	v.now = clk.now
	ctx := context.Background()
	image := w.reg.Image("team-a/moving", "v1")
	resolve := func() string {
		t.Helper()
		pinned, err := v.Resolve(ctx, image, Pull{})
		if err != nil {
			t.Fatal(err)
		}
		return pinned
	}

	before := w.reg.Push(t, "team-a/moving", "v1")
	verifytest.Sign(t, before, w.keyA)
	if got, want := resolve(), image+"@"+before.DigestStr(); got != want {
		t.Fatalf("pinned %q, want %q", got, want)
	}
	// The tag moves to another signed image.
	after := w.reg.Push(t, "team-a/moving", "v1")
	verifytest.Sign(t, after, w.keyA)

	// Within the TTL the tag is not asked for again: the digest it pointed
	// to is pinned (and the validating webhook verifies it).
	clk.advance(29 * time.Second)
	if got, want := resolve(), image+"@"+before.DigestStr(); got != want {
		t.Errorf("within the tag TTL: pinned %q, want the cached %q", got, want)
	}
	if n := ct.tagHeads.Load(); n != 1 {
		t.Errorf("%d tag look-ups within the TTL, want 1", n)
	}
	// After it, the tag is resolved again.
	clk.advance(2 * time.Second)
	if got, want := resolve(), image+"@"+after.DigestStr(); got != want {
		t.Errorf("after the tag TTL: pinned %q, want %q", got, want)
	}
	if n := ct.tagHeads.Load(); n != 2 {
		t.Errorf("%d tag look-ups after the TTL, want 2", n)
	}

	// A cached tag whose digest does not verify is resolved again: an
	// image fixed and pushed to the tag is pinned on the next try.
	unsigned := w.reg.Push(t, "team-a/fixed", "v1")
	fixedImage := w.reg.Image("team-a/fixed", "v1")
	if pinned, err := v.Resolve(ctx, fixedImage, Pull{}); err != nil || pinned != fixedImage+"@"+unsigned.DigestStr() {
		t.Fatalf("pinned %q, %v", pinned, err)
	}
	if r := v.Verify(ctx, fixedImage+"@"+unsigned.DigestStr(), Pull{}); r.Outcome != Unsigned {
		t.Fatalf("outcome %s, want unsigned", r.Outcome)
	}
	fixed := w.reg.Push(t, "team-a/fixed", "v1")
	verifytest.Sign(t, fixed, w.keyA)
	if pinned, err := v.Resolve(ctx, fixedImage, Pull{}); err != nil || pinned != fixedImage+"@"+fixed.DigestStr() {
		t.Errorf("after the fix: pinned %q, %v; want %s", pinned, err, fixed.DigestStr())
	}

	// A registry error is not cached: the next try asks again.
	heads := ct.tagHeads.Load()
	missing := w.reg.Image("team-a/later", "v1")
	if _, err := v.Resolve(ctx, missing, Pull{}); err == nil {
		t.Fatal("resolved a tag that does not exist")
	}
	d := w.reg.Push(t, "team-a/later", "v1")
	verifytest.Sign(t, d, w.keyA)
	if pinned, err := v.Resolve(ctx, missing, Pull{}); err != nil || pinned != missing+"@"+d.DigestStr() {
		t.Errorf("after the push: pinned %q, %v", pinned, err)
	}
	if n := ct.tagHeads.Load() - heads; n != 2 {
		t.Errorf("%d tag look-ups for a failed then a successful resolution, want 2", n)
	}
}

func TestTagCacheConcurrentResolutions(t *testing.T) {
	w := newWorld(t)
	ct := &countingTransport{}
	v := New(w.policy(t, nil), Options{Transport: ct})
	ctx := context.Background()
	d := w.reg.Push(t, "team-a/scaled", "v1")
	verifytest.Sign(t, d, w.keyA)
	image := w.reg.Image("team-a/scaled", "v1")

	// Twenty pods of a Deployment scaling up: one tag look-up.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if pinned, err := v.Resolve(ctx, image, Pull{Namespace: "shop"}); err != nil || pinned != image+"@"+d.DigestStr() {
				t.Errorf("pinned %q, %v", pinned, err)
			}
		}()
	}
	wg.Wait()
	if n := ct.tagHeads.Load(); n != 1 {
		t.Errorf("%d tag look-ups for 20 concurrent resolutions of one tag, want 1", n)
	}
	// Another pull context (other credentials) asks the registry itself.
	if _, err := v.Resolve(ctx, image, Pull{Namespace: "other"}); err != nil {
		t.Fatal(err)
	}
	if n := ct.tagHeads.Load(); n != 2 {
		t.Errorf("%d tag look-ups after another namespace resolved the tag, want 2", n)
	}
}

func TestTagCacheOff(t *testing.T) {
	w := newWorld(t)
	ct := &countingTransport{}
	v := New(w.policy(t, map[string]any{"tagCacheTTL": "0s"}), Options{Transport: ct})
	ctx := context.Background()
	d := w.reg.Push(t, "team-a/app", "v2")
	verifytest.Sign(t, d, w.keyA)
	for range 3 {
		if _, err := v.Resolve(ctx, w.reg.Image("team-a/app", "v2"), Pull{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := ct.tagHeads.Load(); n != 3 {
		t.Errorf("tagCacheTTL 0s: %d tag look-ups for 3 resolutions, want 3", n)
	}
}

func TestPullSecretsAreReadOncePerTTL(t *testing.T) {
	w := newWorld(t)
	client := fake.NewClientset()
	var reads, failures atomic.Int64
	client.PrependReactor("get", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
		reads.Add(1)
		if failures.Load() > 0 {
			failures.Add(-1)
			return true, nil, errors.New("apiserver unavailable")
		}
		return false, nil, nil // not found: anonymous
	})
	v := New(w.policy(t, map[string]any{"tagCacheTTL": "0s"}), Options{Client: client})
	clk := &clock{t: time.Now()}
	v.now = clk.now
	ctx := context.Background()
	image := w.reg.Image("team-a/app", "v1")
	resolve := func(ns string) error {
		_, err := v.Resolve(ctx, image, Pull{Namespace: ns})
		return err
	}

	for range 5 {
		if err := resolve("shop"); err != nil {
			t.Fatal(err)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("%d service account reads for 5 resolutions in one namespace, want 1", n)
	}
	if err := resolve("other"); err != nil {
		t.Fatal(err)
	}
	clk.advance(keychainTTL)
	if err := resolve("shop"); err != nil {
		t.Fatal(err)
	}
	if n := reads.Load(); n != 3 {
		t.Errorf("%d service account reads after another namespace and the TTL, want 3", n)
	}

	// A failed read is not cached.
	clk.advance(keychainTTL)
	failures.Store(1)
	if err := resolve("shop"); err == nil || !strings.Contains(err.Error(), "reading pull secrets of namespace shop") {
		t.Errorf("failed read: %v", err)
	}
	if err := resolve("shop"); err != nil {
		t.Errorf("after a failed read: %v", err)
	}
	if n := reads.Load(); n != 5 {
		t.Errorf("%d service account reads, want 5", n)
	}
}
