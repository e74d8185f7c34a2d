package verifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Rekor is a transparency log's signing key: it issues the signed entry
// timestamps (SETs) that cosign attaches to a signature as its Rekor
// bundle, without a log server. Verification of a SET is offline anyway:
// it needs only the log's public key, from the trusted root.
type Rekor struct {
	key   *ecdsa.PrivateKey
	LogID []byte // SHA-256 of the log's public key (RFC 6962)
	index int64
}

// NewRekor generates a log key.
func NewRekor(t TB) *Rekor {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := cryptoutils.MarshalPublicKeyToDER(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256(der)
	return &Rekor{key: key, LogID: id[:]}
}

// entry logs a hashedrekord entry for the signature over payload and
// returns its bundle, as `cosign sign` gets it back from Rekor.
func (r *Rekor) entry(payload []byte, sigB64 string, publicPEM []byte) (*bundle.RekorBundle, error) {
	h := sha256.Sum256(payload)
	body, err := json.Marshal(map[string]any{
		"apiVersion": "0.0.1",
		"kind":       "hashedrekord",
		"spec": map[string]any{
			"data": map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(h[:])}},
			"signature": map[string]any{
				"content":   sigB64,
				"publicKey": map[string]any{"content": base64.StdEncoding.EncodeToString(publicPEM)},
			},
		},
	})
	if err != nil {
		return nil, err
	}
	r.index++
	p := bundle.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(body),
		IntegratedTime: time.Now().Unix(),
		LogIndex:       r.index,
		LogID:          hex.EncodeToString(r.LogID),
	}
	contents, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	canonical, err := jsoncanonicalizer.Transform(contents)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(canonical)
	set, err := ecdsa.SignASN1(rand.Reader, r.key, digest[:])
	if err != nil {
		return nil, err
	}
	return &bundle.RekorBundle{SignedEntryTimestamp: set, Payload: p}, nil
}
