package chart

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// dnsNames are the names the API server may call the Service by.
func dnsNames(svc, ns string) []string {
	return []string{svc, svc + "." + ns, svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local"}
}

// TestSelfManagedCertificates (the default): microguard keeps its CA and
// serving certificate in <fullname>-tls, writes them to an emptyDir at
// /tls, and patches the CA into both configurations, which it may update by
// name only.
func TestSelfManagedCertificates(t *testing.T) {
	for _, file := range []string{"", filepath.Join(chartDir(t), "ci", "selfmanaged-values.yaml")} {
		t.Run(setName(file), func(t *testing.T) {
			r := render(t, file)
			c := r.workload().container(t)
			w := r.workload()
			if v, _ := argWith(c, "--cert-secret="); v != namespace+"/"+release+"-tls" {
				t.Errorf("--cert-secret=%q", v)
			}
			if v, _ := argWith(c, "--cert-dns-names="); !slices.Equal(strings.Split(v, ","), dnsNames(release, namespace)) {
				t.Errorf("--cert-dns-names=%q, want %v", v, dnsNames(release, namespace))
			}
			m, v := r.webhooks()
			if inject, _ := argWith(c, "--inject-ca-into="); inject != m.Name || inject != v.Name {
				t.Errorf("--inject-ca-into=%q, but the configurations are %q and %q", inject, m.Name, v.Name)
			}
			for _, a := range []map[string]string{m.Annotations, v.Annotations} {
				if _, ok := a["cert-manager.io/inject-ca-from"]; ok {
					t.Error("cert-manager annotation in self-managed mode")
				}
			}
			if vol := volumeOf(w.Template.Spec, mountOf(c, "/tls").Name); vol == nil || vol.EmptyDir == nil {
				t.Errorf("/tls is %+v, want an emptyDir microguard writes", vol)
			}
			if mountOf(c, "/tls").ReadOnly {
				t.Error("/tls is read-only: microguard writes its certificate there")
			}
			if r.has("Certificate") || r.has("Issuer") {
				t.Error("cert-manager objects in self-managed mode")
			}

			var role rbacv1.Role
			r.named("Role", release+"-certs", &role)
			want := []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
				{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{release + "-tls"}, Verbs: []string{"get", "update", "patch"}},
			}
			sameYAML(t, "certificate Role", want, role.Rules)
			if role.Namespace != namespace {
				t.Errorf("certificate Role in %q", role.Namespace)
			}
			var cr rbacv1.ClusterRole
			r.one("ClusterRole", &cr)
			found := false
			for _, rule := range cr.Rules {
				if slices.Contains(rule.APIGroups, "admissionregistration.k8s.io") {
					found = true
					sameYAML(t, "webhook configuration rule", rbacv1.PolicyRule{
						APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"},
						ResourceNames: []string{m.Name}, Verbs: []string{"get", "update", "patch"},
					}, rule)
				}
			}
			if !found {
				t.Error("microguard may not patch caBundle into its webhook configurations")
			}
		})
	}
}

// TestCertManagerCertificates: cert-manager issues the certificate into the
// Secret mounted read-only at /tls and injects the CA into both
// configurations; microguard gets no certificate flags and no write access.
func TestCertManagerCertificates(t *testing.T) {
	for _, c := range []struct {
		file   string
		issuer map[string]any
	}{
		{"certmanager-values.yaml", map[string]any{"name": release + "-selfsigned", "kind": "Issuer", "group": "cert-manager.io"}},
		{"certmanager-issuer-values.yaml", map[string]any{"name": "internal-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			r := render(t, filepath.Join(chartDir(t), "ci", c.file))
			cert := r.generic("Certificate", release)
			secret, _ := path(cert, "spec", "secretName").(string)
			var names []string
			for _, n := range path(cert, "spec", "dnsNames").([]any) {
				names = append(names, n.(string))
			}
			if !slices.Equal(names, dnsNames(release, namespace)) {
				t.Errorf("Certificate dnsNames %v", names)
			}
			sameYAML(t, "issuerRef", c.issuer, path(cert, "spec", "issuerRef"))
			issuers := r.all("Issuer")
			if c.issuer["kind"] == "Issuer" {
				if len(issuers) != 1 || issuers[0].Name != c.issuer["name"] {
					t.Errorf("Issuers %v, want %v", issuers, c.issuer["name"])
				} else if r.generic("Issuer", issuers[0].Name)["spec"].(map[string]any)["selfSigned"] == nil {
					t.Error("the chart's Issuer is not self-signed")
				}
			} else if len(issuers) != 0 {
				t.Errorf("an Issuer is rendered although issuerRef names %v", c.issuer)
			}

			m, v := r.webhooks()
			for _, a := range []map[string]string{m.Annotations, v.Annotations} {
				if got, want := a["cert-manager.io/inject-ca-from"], fmt.Sprintf("%s/%s", namespace, release); got != want {
					t.Errorf("inject-ca-from %q, want %q", got, want)
				}
			}
			w := r.workload()
			ctr := w.container(t)
			mount := mountOf(ctr, "/tls")
			if mount == nil || !mount.ReadOnly {
				t.Fatalf("/tls mount %+v, want read-only", mount)
			}
			if vol := volumeOf(w.Template.Spec, mount.Name); vol == nil || vol.Secret == nil || vol.Secret.SecretName != secret {
				t.Errorf("/tls is %+v, want the Certificate's Secret %q", vol, secret)
			}
			for _, flag := range []string{"--cert-secret", "--cert-dns-names", "--inject-ca-into"} {
				if _, ok := argWith(ctr, flag); ok {
					t.Errorf("%s in cert-manager mode", flag)
				}
			}
			for _, o := range r.all("Role") {
				if strings.HasSuffix(o.Name, "-certs") {
					t.Errorf("Role %s in cert-manager mode", o.Name)
				}
			}
			var cr rbacv1.ClusterRole
			r.one("ClusterRole", &cr)
			for _, rule := range cr.Rules {
				if slices.Contains(rule.APIGroups, "admissionregistration.k8s.io") {
					t.Errorf("write access to webhook configurations in cert-manager mode: %+v", rule)
				}
			}
		})
	}
}
