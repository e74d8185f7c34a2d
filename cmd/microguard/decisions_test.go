package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microguard/microguard/pkg/decisionlog"
)

// TestDecisionsExportAndVerifyWithKey: the auditor's commands on a log
// whose checkpoints are signed: verify passes with the right public key,
// fails with another, and export filters.
func TestDecisionsExportAndVerifyWithKey(t *testing.T) {
	dir := t.TempDir()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	writePub := func(name string, k ed25519.PublicKey) string {
		der, _ := x509.MarshalPKIXPublicKey(k)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	logPath := filepath.Join(dir, "decisions.db")
	l, err := decisionlog.Open(context.Background(), logPath, decisionlog.Options{Replica: "r1", SigningKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	for i, ns := range []string{"shop", "blog", "shop"} {
		r := &decisionlog.Record{UID: "u" + string(rune('0'+i)), Webhook: "validate", Namespace: ns, Allowed: ns == "blog"}
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	l.Close() // writes the last (signed) checkpoint

	code, out, errOut := runCLI(t, "", "decisions", "verify", "--decision-log", logPath, "--public-key", writePub("good.pub", pub))
	if code != 0 || !strings.Contains(out, "OK: 3 records from 1 replicas, 1 checkpoints, 1 signed checkpoints verified") {
		t.Errorf("verify with the signing key: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "", "decisions", "verify", "--decision-log", logPath, "--public-key", writePub("other.pub", otherPub))
	if code != 1 || !strings.Contains(out, "TAMPERED") || !strings.Contains(out, "checkpoint signed by key") {
		t.Errorf("verify with another key: exit %d\n%s", code, out)
	}
	code, out, errOut = runCLI(t, "", "decisions", "export", "--decision-log", logPath, "--namespace", "shop", "--allowed", "false", "--format", "csv")
	if code != 0 || strings.Count(out, "\n") != 3 || strings.Contains(out, ",blog,") {
		t.Errorf("filtered csv export: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "", "decisions", "export", "--decision-log", filepath.Join(dir, "absent.db")); code != 2 || !strings.Contains(errOut, "absent.db") {
		t.Errorf("export of a missing log: exit %d, %s", code, errOut)
	}
}
