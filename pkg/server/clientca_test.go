package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
)

// testCA is a CA that signs client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// client is a client certificate signed by the CA, as the API server would
// present it.
func (ca *testCA) client(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// presentAnyway presents the first of certs whatever CAs the server asks
// for (with Certificates alone, Go's client sends none the server's
// CertificateRequest does not name, and the other-CA case would test
// nothing more than the no-certificate one).
func presentAnyway(certs []tls.Certificate) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if len(certs) == 0 {
			return &tls.Certificate{}, nil
		}
		return &certs[0], nil
	}
}

// syncBuffer is a log the server writes from its connection goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits for s in the log: the server logs a refused handshake
// after it has sent the alert the client reads.
func (b *syncBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(b.String(), s) {
			return
		}
	}
	t.Errorf("server log %q; want a handshake refused with %q", b.String(), s)
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestClientCA serves the real handlers over TLS configured as New does
// with ClientCAs: only a client whose certificate the configured CA signed
// reaches a handler.
func TestClientCA(t *testing.T) {
	apiserverCA, otherCA := newTestCA(t, "apiserver-client-ca"), newTestCA(t, "someone-else")
	// The bundle holds another CA too: any CA in it may sign.
	pool, err := LoadClientCAs(writeFile(t, "client-ca.crt", append(newTestCA(t, "unused").pem, apiserverCA.pem...)))
	if err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int32
	m := mux(t)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		m.ServeHTTP(w, r)
	}))
	ts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	requireClientCert(pool)(ts.TLS)
	var serverLog syncBuffer // why the server refused a handshake
	ts.Config.ErrorLog = log.New(&serverLog, "", 0)
	ts.StartTLS()
	defer ts.Close()
	body := admissionReview(t, "uid-ca", admissionv1.Create, "shop", pod("web", map[string]string{"owner": "ana"}))

	post := func(t *testing.T, certs []tls.Certificate, maxVersion uint16) (*http.Response, error) {
		t.Helper()
		tr := ts.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.GetClientCertificate = presentAnyway(certs)
		tr.TLSClientConfig.MaxVersion = maxVersion
		c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		defer c.CloseIdleConnections()
		return c.Post(ts.URL+ValidatePath, "application/json", bytes.NewReader(body))
	}
	refused := []struct {
		name   string
		certs  []tls.Certificate
		reason string // in the server's log of the failed handshake
	}{
		{"no client certificate", nil, "didn't provide a certificate"},
		{"certificate of another CA", []tls.Certificate{otherCA.client(t, "mallory")}, "certificate signed by unknown authority"},
		{"self-signed certificate", []tls.Certificate{func() tls.Certificate {
			c := newTestCA(t, "self")
			return tls.Certificate{Certificate: [][]byte{c.cert.Raw}, PrivateKey: c.key}
		}()}, "certificate signed by unknown authority"},
	}
	for _, tc := range refused {
		for _, v := range []struct {
			name string
			max  uint16
		}{{"TLS 1.2", tls.VersionTLS12}, {"TLS 1.3", tls.VersionTLS13}} {
			t.Run(tc.name+" "+v.name, func(t *testing.T) {
				before := reached.Load()
				serverLog.Reset()
				resp, err := post(t, tc.certs, v.max)
				if err == nil {
					resp.Body.Close()
					t.Fatalf("answered %s; want the connection refused", resp.Status)
				}
				if !strings.Contains(err.Error(), "tls:") {
					t.Errorf("error %v; want a TLS alert", err)
				}
				if reached.Load() != before {
					t.Error("the request reached a handler")
				}
				serverLog.waitFor(t, tc.reason)
			})
			// With TLS 1.2 the server's verdict is part of the handshake.
			if v.max == tls.VersionTLS12 {
				t.Run(tc.name+" handshake", func(t *testing.T) {
					serverLog.Reset()
					cfg := ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
					cfg.GetClientCertificate, cfg.MaxVersion = presentAnyway(tc.certs), tls.VersionTLS12
					conn, err := tls.Dial("tcp", ts.Listener.Addr().String(), cfg)
					if err == nil {
						conn.Close()
						t.Fatal("handshake succeeded")
					}
					serverLog.waitFor(t, tc.reason)
				})
			}
		}
	}
	t.Run("certificate of the configured CA", func(t *testing.T) {
		resp, err := post(t, []tls.Certificate{apiserverCA.client(t, "kube-apiserver")}, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(resp.Body).Decode(&review); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || review.Response == nil || review.Response.UID != "uid-ca" {
			t.Fatalf("HTTP %s, response %+v; want the review answered", resp.Status, review.Response)
		}
		if !review.Response.Allowed {
			t.Errorf("a restricted, owned pod was refused: %+v", review.Response.Result)
		}
	})
}

// TestNoClientCAChangesNothing: without ClientCAs a client without a
// certificate is served, as before.
func TestNoClientCAChangesNothing(t *testing.T) {
	cfg := &tls.Config{}
	requireClientCert(nil)(cfg)
	if cfg.ClientAuth != tls.NoClientCert || cfg.ClientCAs != nil {
		t.Fatalf("ClientAuth %v, ClientCAs %v; want unchanged", cfg.ClientAuth, cfg.ClientCAs)
	}
}

func TestLoadClientCAsRefusesBadFiles(t *testing.T) {
	ca := newTestCA(t, "ca")
	keyDER, err := x509.MarshalECPrivateKey(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no PEM CERTIFICATE block"},
		{"not PEM", []byte("just some text\n"), "no PEM CERTIFICATE block"},
		{"only a key", keyPEM, "no PEM CERTIFICATE block"},
		{"bad certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")}), "certificate 1"},
		{"bad certificate after a good one", append(ca.pem, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")})...), "certificate 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "ca.crt", tc.data)
			_, err := LoadClientCAs(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one naming %s and %q", err, path, tc.want)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "absent.crt")
	if _, err := LoadClientCAs(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("error %v; want not-exist naming %s", err, missing)
	}
	// A key beside the certificate, as some bundles have, is skipped.
	if _, err := LoadClientCAs(writeFile(t, "mixed.pem", append(keyPEM, ca.pem...))); err != nil {
		t.Fatalf("key then certificate: %v", err)
	}
}
