package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// LoadClientCAs reads a PEM bundle of CA certificates: the CAs one of
// which must have signed the client certificate the API server presents.
// A file that cannot be read, or that holds no certificate, or a PEM block
// that is not a valid certificate, is an error naming the file.
func LoadClientCAs(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // names the file
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue // a key or parameters in the same bundle: not a CA
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: %w", path, errNoCertificate)
	}
	return pool, nil
}

var errNoCertificate = errors.New("no PEM CERTIFICATE block")

// requireClientCert makes the webhook's TLS configuration require a client
// certificate signed by one of cas; with nil cas it changes nothing.
func requireClientCert(cas *x509.CertPool) func(*tls.Config) {
	return func(c *tls.Config) {
		if cas == nil {
			return
		}
		c.ClientCAs = cas
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
}
