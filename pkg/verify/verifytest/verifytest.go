// Package verifytest gives tests a real OCI registry on loopback, random
// images pushed to it, and signatures made by cosign's own signing code
// with keys and a certificate authority generated in the test. Nothing here
// is committed key material: every key lives only as long as the test.
package verifytest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// TB is what the helpers need of a test: testing.TB has it, and so can a
// TestMain's own stand-in.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Registry is go-containerregistry's in-memory registry served on loopback.
type Registry struct {
	// Host is host:port, e.g. 127.0.0.1:41234.
	Host string
	// User and Password are set when the registry requires basic auth.
	User, Password string
	srv            *httptest.Server
}

// StartRegistry serves a fresh registry until the test ends.
func StartRegistry(t TB) *Registry { return start(t, "", "") }

// StartPrivateRegistry serves a registry that answers only requests with
// the user and password (HTTP basic auth), as a private registry does.
func StartPrivateRegistry(t TB, user, password string) *Registry {
	return start(t, user, password)
}

// Handler is the in-memory registry StartRegistry serves, for a program
// that serves it itself (the load tool, in a process of its own).
func Handler() http.Handler { return registry.New(registry.Logger(nopLogger())) }

// At is a registry another process serves at host (host:port), without auth.
func At(host string) *Registry { return &Registry{Host: host} }

func start(t TB, user, password string) *Registry {
	t.Helper()
	h := Handler()
	if user != "" {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="microguard-test"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &Registry{Host: u.Host, User: user, Password: password, srv: srv}
}

// remote are the options to write to this registry.
func (r *Registry) remote() []remote.Option {
	if r.User == "" {
		return nil
	}
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: r.User, Password: r.Password})}
}

// Close stops the registry early (to test a registry that went away); it
// does nothing to a registry another process serves.
func (r *Registry) Close() {
	if r.srv != nil {
		r.srv.Close()
	}
}

// Push pushes a random image as repo:tag and returns its digest reference.
func (r *Registry) Push(t TB, repo, tag string) name.Digest {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(r.Host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, r.remote()...); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(d.String())
}

// Image is repo:tag on this registry, as a container would name it.
func (r *Registry) Image(repo, tag string) string { return r.Host + "/" + repo + ":" + tag }

// Signer signs with a private key and, for keyless, a certificate chain.
type Signer struct {
	SV        signature.SignerVerifier
	PublicPEM []byte
	CertPEM   []byte // keyless: leaf certificate
	ChainPEM  []byte // keyless: the CA chain above the leaf
}

// NewKey generates a key pair: "ecdsa" (P-256), "ed25519" or "rsa".
func NewKey(t TB, alg string) *Signer {
	t.Helper()
	var sv signature.SignerVerifier
	var pub crypto.PublicKey
	var err error
	switch alg {
	case "ecdsa":
		var k *ecdsa.PrivateKey
		if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err == nil {
			sv, err = signature.LoadECDSASignerVerifier(k, crypto.SHA256)
			pub = k.Public()
		}
	case "ed25519":
		var k ed25519.PrivateKey
		if pub, k, err = ed25519.GenerateKey(rand.Reader); err == nil {
			sv, err = signature.LoadED25519SignerVerifier(k)
		}
	case "rsa":
		var k *rsa.PrivateKey
		if k, err = rsa.GenerateKey(rand.Reader, 2048); err == nil {
			sv, err = signature.LoadRSAPKCS1v15SignerVerifier(k, crypto.SHA256)
			pub = k.Public()
		}
	default:
		t.Fatalf("unknown key algorithm %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{SV: sv, PublicPEM: pemBytes}
}

// WritePublicKey writes the public key as PEM into dir and returns the path.
func (s *Signer) WritePublicKey(t TB, dir, file string) string {
	t.Helper()
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, s.PublicPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Sign signs the digest as `cosign sign` does: a simple-signing payload for
// the digest, signed, attached to the image's signature manifest
// (sha256-<hex>.sig) and written to the registry.
func Sign(t TB, d name.Digest, s *Signer) {
	t.Helper()
	if err := sign(d, s, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// Sign signs an image of this registry (with its credentials).
func (r *Registry) Sign(t TB, d name.Digest, s *Signer) {
	t.Helper()
	if err := sign(d, s, r.remote(), nil); err != nil {
		t.Fatal(err)
	}
}

// SignLogged signs like Sign and records the signature in the log,
// attaching the log's bundle, as `cosign sign` does with --tlog-upload.
func SignLogged(t TB, d name.Digest, s *Signer, log *Rekor) {
	t.Helper()
	if err := sign(d, s, nil, log); err != nil {
		t.Fatal(err)
	}
}

func sign(d name.Digest, s *Signer, ropts []remote.Option, log *Rekor) error {
	body, err := (&payload.Cosign{Image: d}).MarshalJSON()
	if err != nil {
		return err
	}
	sig, err := s.SV.SignMessage(bytes.NewReader(body))
	if err != nil {
		return err
	}
	var opts []static.Option
	if s.CertPEM != nil {
		opts = append(opts, static.WithCertChain(s.CertPEM, s.ChainPEM))
	}
	if log != nil {
		logged := s.PublicPEM
		if s.CertPEM != nil {
			logged = s.CertPEM
		}
		b, err := log.entry(body, base64.StdEncoding.EncodeToString(sig), logged)
		if err != nil {
			return err
		}
		opts = append(opts, static.WithBundle(b))
	}
	ociSig, err := static.NewSignature(body, base64.StdEncoding.EncodeToString(sig), opts...)
	if err != nil {
		return err
	}
	ro := ociremote.WithRemoteOptions(ropts...)
	se, err := ociremote.SignedEntity(d, ro)
	if err != nil {
		return err
	}
	signed, err := mutate.AttachSignatureToEntity(se, ociSig)
	if err != nil {
		return err
	}
	return ociremote.WriteSignatures(d.Repository, signed, ro)
}

// CA is a Fulcio-like certificate authority for keyless tests.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA generates a root CA valid from an hour ago for a day.
func NewCA(t TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "microguard test fulcio", Organization: []string{"microguard test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, key: key}
}

// oidIssuer is Fulcio's OIDC issuer extension (1.3.6.1.4.1.57264.1.1).
var oidIssuer = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}

// Issue makes a short-lived code-signing certificate for the identity, as
// Fulcio does after an OIDC login: subject is a URI or an e-mail address.
func (ca *CA) Issue(t TB, issuer, subject string) *Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(time.Now().UnixNano()),
		NotBefore:       time.Now().Add(-time.Minute),
		NotAfter:        time.Now().Add(time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidIssuer, Value: []byte(issuer)}},
	}
	if strings.Contains(subject, "://") {
		u, err := url.Parse(subject)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.EmailAddresses = []string{subject}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	chainPEM, err := cryptoutils.MarshalCertificateToPEM(ca.Cert)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{SV: sv, PublicPEM: pubPEM, CertPEM: certPEM, ChainPEM: chainPEM}
}

// WriteTrustedRoot writes a trusted_root.json that trusts this CA (and no
// transparency or CT log) into dir and returns its path.
func (ca *CA) WriteTrustedRoot(t TB, dir string) string {
	t.Helper()
	return WriteTrustedRoot(t, dir, "trusted_root.json", ca, nil)
}

// WriteTrustedRoot writes a trusted_root.json trusting the CA and the log
// (either may be nil) into dir/file and returns its path.
func WriteTrustedRoot(t TB, dir, file string, ca *CA, log *Rekor) string {
	t.Helper()
	var cas []root.CertificateAuthority
	if ca != nil {
		cas = append(cas, &root.FulcioCertificateAuthority{
			Root: ca.Cert, ValidityPeriodStart: ca.Cert.NotBefore, ValidityPeriodEnd: ca.Cert.NotAfter, URI: "https://fulcio.microguard.test",
		})
	}
	logs := map[string]*root.TransparencyLog{}
	if log != nil {
		logs[hex.EncodeToString(log.LogID)] = &root.TransparencyLog{
			BaseURL: "https://rekor.microguard.test", ID: log.LogID, ValidityPeriodStart: time.Now().Add(-time.Hour),
			HashFunc: crypto.SHA256, PublicKey: log.key.Public(), SignatureHashFunc: crypto.SHA256,
		}
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, cas, map[string]*root.TransparencyLog{}, nil, logs)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// Standalone is a TB for programs that are not tests (make demo, the load
// tool, a TestMain): a failure panics, and Close runs the cleanups.
type Standalone struct{ cleanups []func() }

func (*Standalone) Helper()                        {}
func (*Standalone) Fatal(args ...any)              { panic(fmt.Sprint(args...)) }
func (*Standalone) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (s *Standalone) Cleanup(f func())             { s.cleanups = append(s.cleanups, f) }

// Close runs the cleanups, last registered first.
func (s *Standalone) Close() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	s.cleanups = nil
}
