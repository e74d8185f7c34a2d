package decisionlog

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Checkpoint fixes the head of a replica's chain at a time: records up to
// Seq must end in Head. A log cut short before a checkpoint, or a record
// edited and the chain rebuilt after it, no longer matches. With a signing
// key, a checkpoint is signed (Ed25519) so it cannot be rebuilt either.
// Pruned marks the checkpoint that a retention prune left: the records up
// to Seq are gone and the chain restarts from Head.
type Checkpoint struct {
	Replica   string `json:"replica"`
	Seq       int64  `json:"seq"`
	Head      string `json:"head"`
	Time      string `json:"time"`
	Pruned    bool   `json:"pruned"`
	KeyID     string `json:"keyId"`     // "" when unsigned
	Signature string `json:"signature"` // base64 Ed25519 over Message()
}

// Message is what a checkpoint's signature covers.
func (c Checkpoint) Message() []byte {
	return []byte("microguard-checkpoint/v1\n" + c.Replica + "\n" + strconv.FormatInt(c.Seq, 10) + "\n" + c.Head + "\n" + c.Time + "\n" + strconv.FormatBool(c.Pruned) + "\n")
}

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

func (c *Checkpoint) sign(key ed25519.PrivateKey) {
	if key == nil {
		return
	}
	c.KeyID = KeyID(key.Public().(ed25519.PublicKey))
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.Message()))
}

// Verify checks the signature with pub.
func (c Checkpoint) Verify(pub ed25519.PublicKey) error {
	if c.Signature == "" {
		return errors.New("unsigned")
	}
	if c.KeyID != KeyID(pub) {
		return fmt.Errorf("signed by key %s, not by the given key %s", c.KeyID, KeyID(pub))
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	if !ed25519.Verify(pub, c.Message(), sig) {
		return errors.New("bad signature")
	}
	return nil
}

// LoadSigningKey reads an Ed25519 private key in PEM (PKCS #8), as
// `openssl genpkey -algorithm ed25519` writes it.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	k, err := loadPEM(path, x509.ParsePKCS8PrivateKey, "PKCS #8 private key")
	if err != nil {
		return nil, err
	}
	ed, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, not Ed25519", k)
	}
	return ed, nil
}

// LoadPublicKey reads an Ed25519 public key in PEM (PKIX), as
// `openssl pkey -pubout` writes it.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	k, err := loadPEM(path, x509.ParsePKIXPublicKey, "PKIX public key")
	if err != nil {
		return nil, err
	}
	ed, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, not Ed25519", k)
	}
	return ed, nil
}

// loadPEM parses the first PEM block of the file with parse.
func loadPEM(path string, parse func([]byte) (any, error), what string) (any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM file")
	}
	k, err := parse(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a %s: %w", what, err)
	}
	return k, nil
}
