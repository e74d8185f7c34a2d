package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/microguard/microguard/pkg/certs"
)

// newCertificates wires the self-managed certificate keeper.
func newCertificates(client kubernetes.Interface, secret string, dns []string, dir, injectInto string, log logr.Logger) (*certs.Manager, error) {
	ns, name, ok := strings.Cut(secret, "/")
	if !ok || ns == "" || name == "" {
		return nil, fmt.Errorf("--cert-secret %q: want NAMESPACE/NAME", secret)
	}
	if len(dns) == 0 {
		return nil, errors.New("--cert-secret needs --cert-dns-names: the names the API server calls the webhook by")
	}
	if client == nil {
		return nil, errors.New("--cert-secret needs cluster access")
	}
	return certs.New(client, certs.Options{Secret: types.NamespacedName{Namespace: ns, Name: name}, DNSNames: dns, Dir: dir, InjectInto: injectInto, Log: log}), nil
}
