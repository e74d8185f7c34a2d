package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/microguard/microguard/pkg/verify/verifytest"
)

// TestTransparencyLog: with tlog (the default), a signature counts only
// with a Rekor bundle whose signed entry timestamp the trusted root's log
// key made, checked offline.
func TestTransparencyLog(t *testing.T) {
	dir := t.TempDir()
	reg := verifytest.StartRegistry(t)
	key := verifytest.NewKey(t, "ecdsa")
	keyPath := key.WritePublicKey(t, dir, "k.pub")
	log, otherLog := verifytest.NewRekor(t), verifytest.NewRekor(t)
	ca := verifytest.NewCA(t)
	rootPath := verifytest.WriteTrustedRoot(t, dir, "trusted_root.json", ca, log)

	logged := reg.Push(t, "team/logged", "v1")
	verifytest.SignLogged(t, logged, key, log)
	unlogged := reg.Push(t, "team/unlogged", "v1")
	verifytest.Sign(t, unlogged, key)
	foreignLog := reg.Push(t, "team/foreign-log", "v1")
	verifytest.SignLogged(t, foreignLog, key, otherLog)
	keylessLogged := reg.Push(t, "ci/logged", "v1")
	verifytest.SignLogged(t, keylessLogged, ca.Issue(t, issuer, subject), log)
	keylessUnlogged := reg.Push(t, "ci/unlogged", "v1")
	verifytest.Sign(t, keylessUnlogged, ca.Issue(t, issuer, subject))

	p, err := ParsePolicy(context.Background(), map[string]any{"rules": []any{
		map[string]any{"images": []any{reg.Host + "/team/*"}, "keys": []any{keyPath}, "trustedRoot": rootPath},
		map[string]any{"images": []any{reg.Host + "/ci/*"}, "keyless": map[string]any{
			"issuer": issuer, "subject": subject, "trustedRoot": rootPath, "requireSCT": false,
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	v := New(p, Options{})
	for _, tc := range []struct {
		name   string
		image  string
		want   Outcome
		errHas string
	}{
		{"key, logged", logged.Name(), Verified, ""},
		{"key, not logged", unlogged.Name(), Untrusted, "no transparency log (Rekor) bundle, which rules[0] requires (tlog: true)"},
		{"key, logged in a log the root does not trust", foreignLog.Name(), Untrusted, "rekor log public key not found"},
		{"keyless, logged", keylessLogged.Name(), Verified, ""},
		{"keyless, not logged", keylessUnlogged.Name(), Untrusted, "which rules[1] requires (tlog: true)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := v.Verify(context.Background(), tc.image, Pull{}); r.Outcome != tc.want {
				t.Errorf("outcome %s (%s), want %s", r.Outcome, r.Error, tc.want)
			} else if !strings.Contains(r.Error, tc.errHas) {
				t.Errorf("error %q does not mention %q", r.Error, tc.errHas)
			}
		})
	}
}
