package certs

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestRenewalDecisions: what a Secret needs, at several moments of its life.
func TestRenewalDecisions(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := New(nil, Options{DNSNames: []string{"mg.ns.svc"}, CAValidity: 300 * 24 * time.Hour, CertValidity: 30 * 24 * time.Hour, Now: func() time.Time { return start }})
	sec := &corev1.Secret{Data: map[string][]byte{}}
	if err := m.renew(sec, true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		at       time.Time
		dns      []string
		ca, cert bool
	}{
		{"fresh", start.Add(time.Hour), nil, false, false},
		{"two thirds of the certificate's life left", start.Add(9 * 24 * time.Hour), nil, false, false},
		{"less than a third of the certificate's life left", start.Add(21 * 24 * time.Hour), nil, false, true},
		{"certificate expired", start.Add(31 * 24 * time.Hour), nil, false, true},
		{"CA in its last third", start.Add(201 * 24 * time.Hour), nil, true, true},
		{"service renamed", start.Add(time.Hour), []string{"other.ns.svc"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m.o.Now = func() time.Time { return tc.at }
			m.o.DNSNames = []string{"mg.ns.svc"}
			if tc.dns != nil {
				m.o.DNSNames = tc.dns
			}
			ca, cert, why := m.needs(sec)
			if ca != tc.ca || cert != tc.cert {
				t.Errorf("renew CA %v, certificate %v (%s); want %v, %v", ca, cert, why, tc.ca, tc.cert)
			}
		})
	}
	// A CA renewal keeps the old CA trusted until it expires.
	oldCA := string(sec.Data[CACert])
	m.o.Now = func() time.Time { return start.Add(201 * 24 * time.Hour) }
	if err := m.renew(sec, true); err != nil {
		t.Fatal(err)
	}
	if string(sec.Data[PreviousCACert]) != oldCA || string(sec.Data[CACert]) == oldCA {
		t.Error("CA rotation did not keep the previous CA")
	}
	if ca, cert, why := m.needs(sec); ca || cert {
		t.Errorf("just after renewal: %s", why)
	}
	// A key that does not match its certificate is no pair.
	sec.Data[TLSKey] = sec.Data[CAKey]
	if _, cert, _ := m.needs(sec); !cert {
		t.Error("a serving certificate with the wrong key is not renewed")
	}
}
