package e2e

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
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
)

func insecureClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}, //nolint:gosec // the test inspects the served certificate
		ForceAttemptHTTP2: true,
	}}
}

func TestHealthReadyAndMetrics(t *testing.T) {
	for _, url := range []string{cluster.HealthURL + "/healthz", cluster.HealthURL + "/readyz", cluster.MetricsURL + "/metrics"} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", url, resp.Status)
		}
		if strings.HasSuffix(url, "/metrics") {
			for _, want := range []string{"controller_runtime_webhook_requests_total", "microguard_exceptions_active 1", "microguard_exceptions_expiring_soon 0"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}
		}
	}
}

func TestTLSPolicy(t *testing.T) {
	addr := strings.TrimPrefix(cluster.WebhookURL, "https://")
	if conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil { //nolint:gosec
		conn.Close()
		t.Error("TLS 1.1 handshake succeeded; want TLS 1.2 minimum")
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}) //nolint:gosec
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p == "h2" {
		t.Error("HTTP/2 negotiated; want it off")
	}
}

func post(t *testing.T, path, contentType string, body []byte) (int, *admissionv1.AdmissionReview) {
	t.Helper()
	resp, err := insecureClient().Post(cluster.WebhookURL+path, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	review := &admissionv1.AdmissionReview{}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, review); err != nil {
			t.Fatalf("%s: body is not a review: %v\n%s", path, err, data)
		}
	}
	return resp.StatusCode, review
}

func TestBadRequestsAreRefusedNotAdmitted(t *testing.T) {
	big := append([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":{"a":"`), bytes.Repeat([]byte("a"), 8<<20)...)
	big = append(big, []byte(`"}}}`)...)
	cases := []struct {
		name, contentType string
		body              []byte
		code              int32
	}{
		{"body over the cap", "application/json", big, http.StatusRequestEntityTooLarge},
		{"not JSON", "application/json", []byte("{nope"), http.StatusBadRequest},
		{"no request", "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest},
		{"wrong content type", "text/plain", []byte(`{}`), http.StatusBadRequest},
	}
	for _, tc := range cases {
		for _, path := range []string{"/validate", "/mutate"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				status, review := post(t, path, tc.contentType, tc.body)
				if status != http.StatusOK || review.Response == nil {
					t.Fatalf("HTTP %d, response %v; want a review with an error", status, review.Response)
				}
				if review.Response.Allowed {
					t.Fatal("bad request admitted")
				}
				if review.Response.Result == nil || review.Response.Result.Code != tc.code {
					t.Fatalf("result %+v; want code %d", review.Response.Result, tc.code)
				}
			})
		}
	}
	resp, err := insecureClient().Get(cluster.WebhookURL + "/validate")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /validate: %s; want 405", resp.Status)
	}
}

// TestServingCertificateIsReloaded swaps tls.crt/tls.key for a new pair and
// waits for microguard to serve it, then puts the original back.
func TestServingCertificateIsReloaded(t *testing.T) {
	crtPath, keyPath := filepath.Join(cluster.CertDir, "tls.crt"), filepath.Join(cluster.CertDir, "tls.key")
	origCrt, err := os.ReadFile(crtPath)
	if err != nil {
		t.Fatal(err)
	}
	origKey, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	restore := func() {
		_ = os.WriteFile(keyPath, origKey, 0o600)
		_ = os.WriteFile(crtPath, origCrt, 0o600)
	}
	defer func() {
		restore()
		waitForServedCert(t, func(c *x509.Certificate) bool { return c.Subject.CommonName != "rotated.microguard.test" })
	}()
	crt, key := selfSigned(t, "rotated.microguard.test")
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crtPath, crt, 0o600); err != nil {
		t.Fatal(err)
	}
	waitForServedCert(t, func(c *x509.Certificate) bool { return c.Subject.CommonName == "rotated.microguard.test" })
}

func waitForServedCert(t *testing.T, ok func(*x509.Certificate) bool) {
	t.Helper()
	addr := strings.TrimPrefix(cluster.WebhookURL, "https://")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec
		if err == nil {
			certs := conn.ConnectionState().PeerCertificates
			conn.Close()
			if len(certs) > 0 && ok(certs[0]) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("microguard did not serve the expected certificate within 30s")
}

func selfSigned(t *testing.T, cn string) (crtPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
