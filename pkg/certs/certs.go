// Package certs lets microguard run without cert-manager: it keeps a
// self-signed CA and a serving certificate in a Secret, creates and rotates
// them, writes the serving pair where the webhook server reads it, and
// patches the CA into both webhook configurations.
package certs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Keys of the Secret.
const (
	CACert         = "ca.crt"
	CAKey          = "ca.key"
	PreviousCACert = "ca-previous.crt" // the CA before the last CA rotation, trusted until it expires
	TLSCert        = corev1.TLSCertKey
	TLSKey         = corev1.TLSPrivateKeyKey
)

// Options say where the certificates live and for whom they are.
type Options struct {
	Secret   types.NamespacedName
	DNSNames []string
	// Dir is the webhook server's certificate directory (tls.crt, tls.key).
	Dir string
	// InjectInto names the mutating and validating webhook configurations
	// whose caBundle is kept in step ("" for none).
	InjectInto string
	// CAValidity and CertValidity are the lifetimes of new certificates;
	// one is renewed once less than a third of its lifetime is left.
	CAValidity, CertValidity time.Duration
	// CheckInterval is how often Start checks for renewal.
	CheckInterval time.Duration
	Log           logr.Logger
	Now           func() time.Time
}

// Manager keeps the certificates. Ensure once before the webhook server
// starts; Start keeps them fresh.
type Manager struct {
	client kubernetes.Interface
	o      Options
	ready  atomic.Bool
}

// New builds a manager with defaults: a 10-year CA, 1-year serving
// certificates, checked every minute (with the caBundle of both webhook
// configurations, which an admin may have re-created).
func New(client kubernetes.Interface, o Options) *Manager {
	if o.CAValidity == 0 {
		o.CAValidity = 10 * 365 * 24 * time.Hour
	}
	if o.CertValidity == 0 {
		o.CertValidity = 365 * 24 * time.Hour
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Manager{client: client, o: o}
}

// Ready is a readiness check: certificates written and the CA injected.
func (m *Manager) Ready(*http.Request) error {
	if !m.ready.Load() {
		return errors.New("serving certificate not ready yet")
	}
	return nil
}

// EnsureUntilReady calls Ensure until it succeeds or ctx ends: the webhook
// server cannot start without a certificate.
func (m *Manager) EnsureUntilReady(ctx context.Context) error {
	delay := 500 * time.Millisecond
	for {
		err := m.Ensure(ctx)
		if err == nil {
			return nil
		}
		m.o.Log.Error(err, "certificates not ready; retrying", "in", delay)
		select {
		case <-ctx.Done():
			return fmt.Errorf("certificates: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// Start re-checks every CheckInterval until ctx ends (a manager Runnable).
func (m *Manager) Start(ctx context.Context) error {
	t := time.NewTicker(m.o.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := m.Ensure(ctx); err != nil {
				m.o.Log.Error(err, "keeping certificates fresh")
			}
		}
	}
}

// Ensure makes the Secret hold a valid CA and serving certificate (creating
// or renewing them), writes the serving pair to Dir and injects the CA.
func (m *Manager) Ensure(ctx context.Context) error {
	var sec *corev1.Secret
	var err error
	for attempt := 0; ; attempt++ {
		sec, err = m.reconcileSecret(ctx)
		if err == nil || !(apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) || attempt == 3 {
			break
		}
		// Another replica changed the Secret first: take theirs.
	}
	if err != nil {
		return err
	}
	if err := m.writeFiles(sec); err != nil {
		return err
	}
	if m.o.InjectInto != "" {
		if err := m.inject(ctx, caBundle(sec)); err != nil {
			return err
		}
	}
	m.ready.Store(true)
	return nil
}

// reconcileSecret reads the Secret and creates or renews what needs it.
func (m *Manager) reconcileSecret(ctx context.Context) (*corev1.Secret, error) {
	secrets := m.client.CoreV1().Secrets(m.o.Secret.Namespace)
	sec, err := secrets.Get(ctx, m.o.Secret.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: m.o.Secret.Name, Namespace: m.o.Secret.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "microguard"}},
			Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{},
		}
		if err := m.renew(sec, true); err != nil {
			return nil, err
		}
		m.o.Log.Info("creating CA and serving certificate", "secret", m.o.Secret.String())
		return secrets.Create(ctx, sec, metav1.CreateOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s: %w", m.o.Secret, err)
	}
	renewCA, renewCert, why := m.needs(sec)
	if !renewCA && !renewCert {
		return sec, nil
	}
	m.o.Log.Info("renewing certificates", "secret", m.o.Secret.String(), "ca", renewCA, "reason", why)
	sec = sec.DeepCopy()
	if sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	if err := m.renew(sec, renewCA); err != nil {
		return nil, err
	}
	return secrets.Update(ctx, sec, metav1.UpdateOptions{})
}

// needs says what must be renewed, and why.
func (m *Manager) needs(sec *corev1.Secret) (ca, cert bool, why string) {
	now := m.o.Now()
	caCert, _, err := parsePair(sec.Data[CACert], sec.Data[CAKey])
	if err != nil {
		return true, true, "no usable CA: " + err.Error()
	}
	if expiring(caCert, now) {
		return true, true, "CA expires " + caCert.NotAfter.Format(time.RFC3339)
	}
	leaf, _, err := parsePair(sec.Data[TLSCert], sec.Data[TLSKey])
	switch {
	case err != nil:
		return false, true, "no usable serving certificate: " + err.Error()
	case expiring(leaf, now):
		return false, true, "serving certificate expires " + leaf.NotAfter.Format(time.RFC3339)
	case !slices.Equal(sorted(leaf.DNSNames), sorted(m.o.DNSNames)):
		return false, true, fmt.Sprintf("DNS names changed: %v, want %v", leaf.DNSNames, m.o.DNSNames)
	case leaf.CheckSignatureFrom(caCert) != nil:
		return false, true, "serving certificate not signed by the CA"
	}
	return false, false, ""
}

// expiring: less than a third of the lifetime left (or not yet valid).
func expiring(c *x509.Certificate, now time.Time) bool {
	life := c.NotAfter.Sub(c.NotBefore)
	return now.After(c.NotAfter.Add(-life/3)) || now.Before(c.NotBefore)
}

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// renew issues a serving certificate, and first a new CA when newCA (the
// old CA stays trusted in the bundle until it expires).
func (m *Manager) renew(sec *corev1.Secret, newCA bool) error {
	now := m.o.Now()
	caCert, caKey, err := parsePair(sec.Data[CACert], sec.Data[CAKey])
	if newCA || err != nil {
		if err == nil && now.Before(caCert.NotAfter) {
			sec.Data[PreviousCACert] = sec.Data[CACert]
		} else {
			delete(sec.Data, PreviousCACert)
		}
		if caCert, caKey, err = newCAPair(now, m.o.CAValidity); err != nil {
			return err
		}
		if sec.Data[CACert], sec.Data[CAKey], err = encode(caCert, caKey); err != nil {
			return err
		}
	}
	leaf, leafKey, err := newLeaf(now, m.o.CertValidity, m.o.DNSNames, caCert, caKey)
	if err != nil {
		return err
	}
	sec.Data[TLSCert], sec.Data[TLSKey], err = encode(leaf, leafKey)
	return err
}

func caBundle(sec *corev1.Secret) []byte {
	return append(append([]byte{}, sec.Data[CACert]...), sec.Data[PreviousCACert]...)
}

// writeFiles puts the serving pair where the webhook server reads it,
// atomically, only when it changed (the server reloads on change).
func (m *Manager) writeFiles(sec *corev1.Secret) error {
	if err := os.MkdirAll(m.o.Dir, 0o700); err != nil {
		return err
	}
	for _, k := range []string{TLSKey, TLSCert} {
		path := filepath.Join(m.o.Dir, k)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, sec.Data[k]) {
			continue
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, sec.Data[k], 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return nil
}

// inject sets caBundle on every webhook of both configurations.
func (m *Manager) inject(ctx context.Context, bundle []byte) error {
	ar := m.client.AdmissionregistrationV1()
	mwc, err := ar.MutatingWebhookConfigurations().Get(ctx, m.o.InjectInto, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", m.o.InjectInto, err)
	}
	changed := false
	for i := range mwc.Webhooks {
		if !bytes.Equal(mwc.Webhooks[i].ClientConfig.CABundle, bundle) {
			mwc.Webhooks[i].ClientConfig.CABundle, changed = bundle, true
		}
	}
	if changed {
		if _, err := ar.MutatingWebhookConfigurations().Update(ctx, mwc, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("injecting the CA into MutatingWebhookConfiguration %s: %w", m.o.InjectInto, err)
		}
	}
	vwc, err := ar.ValidatingWebhookConfigurations().Get(ctx, m.o.InjectInto, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", m.o.InjectInto, err)
	}
	changed = false
	for i := range vwc.Webhooks {
		if !bytes.Equal(vwc.Webhooks[i].ClientConfig.CABundle, bundle) {
			vwc.Webhooks[i].ClientConfig.CABundle, changed = bundle, true
		}
	}
	if changed {
		if _, err := ar.ValidatingWebhookConfigurations().Update(ctx, vwc, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("injecting the CA into ValidatingWebhookConfiguration %s: %w", m.o.InjectInto, err)
		}
	}
	return nil
}

func newCAPair(now time.Time, validity time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "microguard webhook CA", Organization: []string{"microguard"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

func newLeaf(now time.Time, validity time.Duration, dns []string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if len(dns) == 0 {
		return nil, nil, errors.New("no DNS names for the serving certificate")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: dns[0]},
		DNSNames:     dns,
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func encode(c *x509.Certificate, k *ecdsa.PrivateKey) (certPEM, keyPEM []byte, err error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, nil, errors.New("no certificate")
	}
	c, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, errors.New("no private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || !ek.PublicKey.Equal(c.PublicKey) {
		return nil, nil, errors.New("the private key does not match the certificate")
	}
	return c, ek, nil
}
