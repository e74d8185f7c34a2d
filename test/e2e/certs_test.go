package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/microguard/microguard/test/localcluster"
)

// harmlessWebhooks registers mutating and validating configurations named
// name that match nothing real (a made-up resource), with no caBundle.
func harmlessWebhooks(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	none, ignore := admissionregistrationv1.SideEffectClassNone, admissionregistrationv1.Ignore
	path := "/validate"
	cc := admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "certs-test", Name: "mg", Path: &path}}
	rules := []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{"microguard.test"}, APIVersions: []string{"v1"}, Resources: []string{"nothings"}}}}
	objs := []client.Object{
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}, Webhooks: []admissionregistrationv1.MutatingWebhook{
			{Name: "m.certs.microguard.test", ClientConfig: cc, Rules: rules, SideEffects: &none, FailurePolicy: &ignore, AdmissionReviewVersions: []string{"v1"}}}},
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}, Webhooks: []admissionregistrationv1.ValidatingWebhook{
			{Name: "v.certs.microguard.test", ClientConfig: cc, Rules: rules, SideEffects: &none, FailurePolicy: &ignore, AdmissionReviewVersions: []string{"v1"}},
			{Name: "v2.certs.microguard.test", ClientConfig: cc, Rules: rules, SideEffects: &none, FailurePolicy: &ignore, AdmissionReviewVersions: []string{"v1"}}}},
	}
	for _, o := range objs {
		if err := cluster.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cluster.Client.Delete(context.Background(), o) })
	}
}

// startSelfManaged serves a microguard that keeps its certificates in
// certs-test/secret and injects the CA into configuration name.
func startSelfManaged(t *testing.T, secret, name string) *localcluster.Process {
	t.Helper()
	return startExtra(t, secret+".log", "--cert-dir", t.TempDir(), "--cert-secret", "certs-test/"+secret,
		"--cert-dns-names", "mg.certs-test.svc,mg.certs-test.svc.cluster.local", "--inject-ca-into", name)
}

func secretData(t *testing.T, name string) map[string][]byte {
	t.Helper()
	sec := &corev1.Secret{}
	if err := cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: "certs-test", Name: name}, sec); err != nil {
		t.Fatal(err)
	}
	return sec.Data
}

func parseCerts(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

// served is the certificate microguard serves, verified against roots for
// the service name the API server uses.
func served(t *testing.T, p *localcluster.Process, roots []byte) *x509.Certificate {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(roots) {
		t.Fatal("no CA to verify with")
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.WebhookURL[len("https://"):], &tls.Config{RootCAs: pool, ServerName: "mg.certs-test.svc"})
	if err != nil {
		t.Fatalf("the served certificate does not verify against the CA for mg.certs-test.svc: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func injected(t *testing.T, name string, want []byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := cluster.Client.Get(context.Background(), client.ObjectKey{Name: name}, m); err != nil {
			t.Fatal(err)
		}
		if err := cluster.Client.Get(context.Background(), client.ObjectKey{Name: name}, v); err != nil {
			t.Fatal(err)
		}
		ok := bytes.Equal(m.Webhooks[0].ClientConfig.CABundle, want)
		for _, w := range v.Webhooks {
			ok = ok && bytes.Equal(w.ClientConfig.CABundle, want)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("caBundle not injected into both configurations %s", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSelfManagedCertificates(t *testing.T) {
	namespace(t, "certs-test", nil)
	harmlessWebhooks(t, "mg-selfcert")
	p := startSelfManaged(t, "mg-tls", "mg-selfcert")
	data := secretData(t, "mg-tls")
	cas := parseCerts(t, data["ca.crt"])
	if len(cas) != 1 || !cas[0].IsCA {
		t.Fatalf("ca.crt holds %d certificates (CA: %v)", len(cas), len(cas) == 1 && cas[0].IsCA)
	}
	injected(t, "mg-selfcert", data["ca.crt"])
	leaf := served(t, p, data["ca.crt"])
	if leaf.NotAfter.Before(time.Now().Add(300 * 24 * time.Hour)) {
		t.Errorf("serving certificate expires %s, want about a year", leaf.NotAfter)
	}
	// A second replica uses the same Secret rather than making its own.
	p2 := startSelfManaged(t, "mg-tls", "mg-selfcert")
	if again := secretData(t, "mg-tls"); !bytes.Equal(again["ca.crt"], data["ca.crt"]) || !bytes.Equal(again["tls.crt"], data["tls.crt"]) {
		t.Error("a second replica replaced the certificates")
	}
	served(t, p2, data["ca.crt"])
}

// makePair issues a certificate valid from notBefore to notAfter, signed
// by parent (self-signed when parent is nil).
func makePair(t *testing.T, notBefore, notAfter time.Time, isCA bool, dns []string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "test"}, NotBefore: notBefore, NotAfter: notAfter,
		DNSNames: dns, BasicConstraintsValid: true, IsCA: isCA, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return c, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func TestCertificateRotation(t *testing.T) {
	namespace(t, "certs-test", nil)
	now := time.Now()
	dns := []string{"mg.certs-test.svc", "mg.certs-test.svc.cluster.local"}
	for _, tc := range []struct {
		name     string
		caExpiry time.Duration // from now; the CA lived 10 days before
		newCA    bool
	}{
		{"serving certificate near expiry", 5 * 365 * 24 * time.Hour, false},
		{"CA near expiry", 24 * time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := "mg-rotate"
			if tc.newCA {
				secret = "mg-rotate-ca"
			}
			config := "mg-" + secret
			harmlessWebhooks(t, config)
			ca, caKey, caPEM, caKeyPEM := makePair(t, now.Add(-10*24*time.Hour), now.Add(tc.caExpiry), true, nil, nil, nil)
			// A serving certificate with a day left of a year: due.
			_, _, leafPEM, leafKeyPEM := makePair(t, now.Add(-364*24*time.Hour), now.Add(24*time.Hour), false, dns, ca, caKey)
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "certs-test", Name: secret}, Type: corev1.SecretTypeTLS,
				Data: map[string][]byte{"ca.crt": caPEM, "ca.key": caKeyPEM, "tls.crt": leafPEM, "tls.key": leafKeyPEM}}
			if err := cluster.Client.Create(context.Background(), sec); err != nil {
				t.Fatal(err)
			}
			p := startSelfManaged(t, secret, config)
			data := secretData(t, secret)
			if bytes.Equal(data["tls.crt"], leafPEM) {
				t.Fatal("the serving certificate near expiry was not renewed")
			}
			if tc.newCA == bytes.Equal(data["ca.crt"], caPEM) {
				t.Fatalf("CA renewed = %v, want %v", !bytes.Equal(data["ca.crt"], caPEM), tc.newCA)
			}
			bundle := data["ca.crt"]
			if tc.newCA {
				// The old CA stays trusted while replicas still serve its certificates.
				if !bytes.Equal(data["ca-previous.crt"], caPEM) {
					t.Error("the previous CA is not kept")
				}
				bundle = append(append([]byte{}, data["ca.crt"]...), caPEM...)
			}
			injected(t, config, bundle)
			leaf := served(t, p, data["ca.crt"])
			if leaf.NotAfter.Before(now.Add(300*24*time.Hour)) && !tc.newCA {
				t.Errorf("renewed serving certificate expires %s", leaf.NotAfter)
			}
		})
	}
}
