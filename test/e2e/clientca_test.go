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
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
)

// clientCertOf is a client certificate signed by a new CA, and that CA in
// PEM.
func clientCertOf(t *testing.T, cn string) (tls.Certificate, []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn + " CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// TestClientCAIsRequired runs the real binary with --client-ca: it becomes
// ready (its readiness dials its own webhook port without a certificate),
// refuses a caller without a certificate or with another CA's, and answers
// one whose certificate the configured CA signed.
func TestClientCAIsRequired(t *testing.T) {
	apiserver, caPEM := clientCertOf(t, "kube-apiserver")
	stranger, _ := clientCertOf(t, "stranger")
	caFile := filepath.Join(t.TempDir(), "client-ca.crt")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	p := startExtra(t, "client-ca.log", "--client-ca", caFile)
	namespace(t, "load", nil)
	body := hostileReview(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"load"},"spec":{"containers":[{"name":"a","image":"b"}]}}`)
	post := func(cert *tls.Certificate) (*http.Response, error) {
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the test is about the client's certificate
			// Present the certificate whatever CAs the server names.
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if cert == nil {
					return &tls.Certificate{}, nil
				}
				return cert, nil
			},
		}}}
		defer c.CloseIdleConnections()
		return c.Post(p.WebhookURL+"/validate", "application/json", bytes.NewReader(body))
	}
	for name, cert := range map[string]*tls.Certificate{"no certificate": nil, "another CA's certificate": &stranger} {
		if resp, err := post(cert); err == nil {
			resp.Body.Close()
			t.Errorf("%s: answered %s; want the connection refused", name, resp.Status)
		}
	}
	resp, err := post(&apiserver)
	if err != nil {
		t.Fatalf("the configured CA's certificate: %v", err)
	}
	defer resp.Body.Close()
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil || review.Response == nil || review.Response.UID != "hostile" {
		t.Fatalf("HTTP %s, %v, response %+v; want the review answered", resp.Status, err, review.Response)
	}
	if review.Response.Allowed {
		t.Error("admitted a pod that sets no securityContext; want a denial")
	}
}
