package decisionlog

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSigningKeysFromPEM: the key files an admin makes with openssl load,
// sign and verify a checkpoint; other keys and files are refused by name.
func TestSigningKeysFromPEM(t *testing.T) {
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	privDER, _ := x509.MarshalPKCS8PrivateKey(priv)
	pubDER, _ := x509.MarshalPKIXPublicKey(pub)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)

	key, err := LoadSigningKey(write("checkpoint.key", "PRIVATE KEY", privDER))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := LoadPublicKey(write("checkpoint.pub", "PUBLIC KEY", pubDER))
	if err != nil {
		t.Fatal(err)
	}
	c := Checkpoint{Replica: "r", Seq: 3, Head: Genesis, Time: "2026-11-29T00:00:00.000000000Z"}
	c.sign(key)
	if err := c.Verify(verifier); err != nil {
		t.Fatalf("a checkpoint signed with the loaded key: %v", err)
	}
	c.Seq = 4
	if err := c.Verify(verifier); err == nil {
		t.Error("an edited checkpoint verified")
	}
	for _, tc := range []struct {
		path string
		load func(string) error
		want string
	}{
		{write("ec.key", "PRIVATE KEY", ecDER), func(p string) error { _, err := LoadSigningKey(p); return err }, "not Ed25519"},
		{write("junk.pem", "PRIVATE KEY", []byte("junk")), func(p string) error { _, err := LoadSigningKey(p); return err }, "not a PKCS #8 private key"},
		{write("pub-as-key.pem", "PUBLIC KEY", pubDER), func(p string) error { _, err := LoadSigningKey(p); return err }, "not a PKCS #8 private key"},
		{filepath.Join(dir, "checkpoint.key"), func(p string) error { _, err := LoadPublicKey(p); return err }, "not a PKIX public key"},
	} {
		if err := tc.load(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", filepath.Base(tc.path), err, tc.want)
		}
	}
	plain := filepath.Join(dir, "plain.txt")
	os.WriteFile(plain, []byte("hello"), 0o600)
	if _, err := LoadSigningKey(plain); err == nil || !strings.Contains(err.Error(), "not a PEM file") {
		t.Errorf("plain text: %v", err)
	}
}
