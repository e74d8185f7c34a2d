package chart

import (
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/server"
)

// binaryWebhooks are the configurations the binary defines
// (server.WebhookConfigurations) for a release in ns with these values.
func binaryWebhooks(t *testing.T, ns, service string, vals map[string]any) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	t.Helper()
	var excluded []string
	for _, n := range append(stringList(vals, "webhooks", "excludedNamespaces"), ns) {
		if !slices.Contains(excluded, n) {
			excluded = append(excluded, n)
		}
	}
	return server.WebhookConfigurations(server.WebhookOptions{
		ClientConfig: func(p string) admissionregistrationv1.WebhookClientConfig {
			port := int32(443)
			return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
				Namespace: ns, Name: service, Path: &p, Port: &port,
			}}
		},
		ExcludedNamespaces: excluded,
		TimeoutSeconds:     int32(num(vals, "webhooks", "timeoutSeconds")),
	})
}

// optOutSelector is the object selector of the opt-out label.
func optOutSelector(label string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: label, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"true"},
	}}}
}

// sameYAML fails the test with both sides when want and got differ.
func sameYAML(t *testing.T, what string, want, got any) {
	t.Helper()
	w, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	g, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(w) != string(g) {
		t.Errorf("%s: the chart differs from server.WebhookConfigurations\n--- binary (pkg/server/webhooks.go):\n%s--- chart (templates/webhooks.yaml):\n%s", what, w, g)
	}
}

// TestWebhooksMatchTheBinary renders the webhook configurations with every
// values set and compares them, field by field, with the ones the binary
// defines: rules (ephemeral containers, the seven workload kinds, PVCs, the
// bucket CRDs), failure, match and reinvocation policies, side effects,
// timeouts, review versions, namespace selector, client config. So the chart
// cannot drift from pkg/server/webhooks.go. What the chart adds on purpose
// (the opt-out object selector, values that override a default) is checked
// against the values.
func TestWebhooksMatchTheBinary(t *testing.T) {
	for _, file := range valueSets(t) {
		t.Run(setName(file), func(t *testing.T) {
			t.Parallel()
			vals := values(t, file)
			r := render(t, file)
			gotM, gotV := r.webhooks()
			wantM, wantV := binaryWebhooks(t, namespace, release, vals)

			if gotM.Name != wantM.Name || gotV.Name != wantV.Name {
				t.Errorf("configuration names %q, %q; the binary's are %q, %q", gotM.Name, gotV.Name, wantM.Name, wantV.Name)
			}
			m, v := gotM.Webhooks[0], gotV.Webhooks[0]
			bm, bv := wantM.Webhooks[0], wantV.Webhooks[0]

			// Certificates: never rendered (cert-manager or microguard fills them).
			if len(m.ClientConfig.CABundle) != 0 || len(v.ClientConfig.CABundle) != 0 {
				t.Error("the chart renders a caBundle; it must be left to cert-manager or microguard (--inject-ca-into)")
			}

			// Failure policies may be overridden in values; defaults are checked by TestDefaultValuesMatchTheBinary.
			if fp := admissionregistrationv1.FailurePolicyType(str(vals, "webhooks", "mutating", "failurePolicy")); *bm.FailurePolicy != fp {
				bm.FailurePolicy = &fp
			}
			if fp := admissionregistrationv1.FailurePolicyType(str(vals, "webhooks", "validating", "failurePolicy")); *bv.FailurePolicy != fp {
				bv.FailurePolicy = &fp
			}

			// The opt-out label: the chart's own addition.
			label := str(vals, "optOut", "label")
			for _, c := range []struct {
				name     string
				honoured bool
				binary   *metav1.LabelSelector
				chart    **metav1.LabelSelector
			}{
				{"mutating", boolean(vals, "optOut", "mutating"), bm.ObjectSelector, &m.ObjectSelector},
				{"validating", boolean(vals, "optOut", "validating"), bv.ObjectSelector, &v.ObjectSelector},
			} {
				want := c.binary
				if want == nil && c.honoured {
					want = optOutSelector(label)
				}
				sameYAML(t, c.name+" objectSelector", want, *c.chart)
				*c.chart = c.binary
			}

			sameYAML(t, "mutating webhook", bm, m)
			sameYAML(t, "validating webhook", bv, v)
		})
	}
}

// TestDefaultValuesMatchTheBinary: with the default values the settings
// are exactly the binary's: validation fails closed, mutation fails open,
// 5 s timeouts, the namespaces the binary exempts by default excluded.
func TestDefaultValuesMatchTheBinary(t *testing.T) {
	r := render(t, "")
	gotM, gotV := r.webhooks()
	var exempted []any
	for _, ns := range config.DefaultExemptedNamespaces {
		exempted = append(exempted, ns)
	}
	// Timeout 0: the binary's default.
	wantM, wantV := binaryWebhooks(t, namespace, release, map[string]any{
		"webhooks": map[string]any{"excludedNamespaces": exempted, "timeoutSeconds": float64(0)},
	})
	m, v := gotM.Webhooks[0], gotV.Webhooks[0]
	m.ObjectSelector = nil
	sameYAML(t, "mutating webhook (default values)", wantM.Webhooks[0], m)
	sameYAML(t, "validating webhook (default values)", wantV.Webhooks[0], v)
}

// TestWebhookSettings checks what the issue asks of both configurations for
// every values set, independently of the binary.
func TestWebhookSettings(t *testing.T) {
	for _, file := range valueSets(t) {
		t.Run(setName(file), func(t *testing.T) {
			t.Parallel()
			vals := values(t, file)
			mc, vc := render(t, file).webhooks()
			m, v := mc.Webhooks[0], vc.Webhooks[0]
			if m.Name != server.MutatingWebhookName || v.Name != server.ValidatingWebhookName {
				t.Errorf("webhook names %q, %q", m.Name, v.Name)
			}
			for _, w := range []struct {
				name     string
				timeout  *int32
				side     *admissionregistrationv1.SideEffectClass
				match    *admissionregistrationv1.MatchPolicyType
				versions []string
				ns       *metav1.LabelSelector
				svc      *admissionregistrationv1.ServiceReference
				path     string
			}{
				{"mutating", m.TimeoutSeconds, m.SideEffects, m.MatchPolicy, m.AdmissionReviewVersions, m.NamespaceSelector, m.ClientConfig.Service, server.MutatePath},
				{"validating", v.TimeoutSeconds, v.SideEffects, v.MatchPolicy, v.AdmissionReviewVersions, v.NamespaceSelector, v.ClientConfig.Service, server.ValidatePath},
			} {
				if w.timeout == nil || *w.timeout < 1 || *w.timeout > 10 || int(*w.timeout) != num(vals, "webhooks", "timeoutSeconds") {
					t.Errorf("%s: timeoutSeconds %v, want %d (1-10)", w.name, w.timeout, num(vals, "webhooks", "timeoutSeconds"))
				}
				if deref(w.side) != admissionregistrationv1.SideEffectClassNoneOnDryRun {
					t.Errorf("%s: sideEffects %v", w.name, deref(w.side))
				}
				if deref(w.match) != admissionregistrationv1.Equivalent {
					t.Errorf("%s: matchPolicy %v", w.name, deref(w.match))
				}
				if !slices.Equal(w.versions, []string{"v1"}) {
					t.Errorf("%s: admissionReviewVersions %v", w.name, w.versions)
				}
				excluded := excludedNamespaces(t, w.ns)
				for _, ns := range []string{"kube-system", "kube-node-lease", namespace} {
					if !slices.Contains(excluded, ns) {
						t.Errorf("%s: namespace %s is not excluded (excluded: %v)", w.name, ns, excluded)
					}
				}
				if w.svc == nil || w.svc.Name != release || w.svc.Namespace != namespace || deref(w.svc.Path) != w.path || deref(w.svc.Port) != 443 {
					t.Errorf("%s: clientConfig.service %+v", w.name, w.svc)
				}
			}
			if got, want := string(deref(m.FailurePolicy)), str(vals, "webhooks", "mutating", "failurePolicy"); got != want {
				t.Errorf("mutating failurePolicy %s, want %s", got, want)
			}
			if got, want := string(deref(v.FailurePolicy)), str(vals, "webhooks", "validating", "failurePolicy"); got != want {
				t.Errorf("validating failurePolicy %s, want %s", got, want)
			}
			if deref(m.ReinvocationPolicy) != admissionregistrationv1.IfNeededReinvocationPolicy {
				t.Errorf("mutating reinvocationPolicy %v", deref(m.ReinvocationPolicy))
			}
			// Mutation: pods only. Validation: pods, their ephemeral containers, workloads, PVCs, buckets.
			if len(m.Rules) != 1 || !slices.Equal(m.Rules[0].Resources, []string{"pods"}) || !slices.Equal(m.Rules[0].APIGroups, []string{""}) {
				t.Errorf("mutating rules %+v", m.Rules)
			}
			covered := map[string]bool{}
			for _, rule := range v.Rules {
				for _, g := range rule.APIGroups {
					for _, res := range rule.Resources {
						covered[g+"/"+res] = slices.Contains(rule.Operations, admissionregistrationv1.Create) && slices.Contains(rule.Operations, admissionregistrationv1.Update)
					}
				}
			}
			for _, res := range []string{"/pods", "/pods/ephemeralcontainers", "/replicationcontrollers", "/persistentvolumeclaims",
				"apps/deployments", "apps/statefulsets", "apps/daemonsets", "apps/replicasets", "batch/jobs", "batch/cronjobs",
				"s3.services.k8s.aws/buckets", "storage.cnrm.cloud.google.com/storagebuckets", "storage.azure.com/storageaccounts"} {
				if !covered[res] {
					t.Errorf("the validating webhook does not see CREATE and UPDATE of %s", res)
				}
			}
		})
	}
}

func excludedNamespaces(t *testing.T, sel *metav1.LabelSelector) []string {
	t.Helper()
	if sel == nil || len(sel.MatchLabels) != 0 || len(sel.MatchExpressions) != 1 {
		t.Fatalf("namespaceSelector %+v: want one matchExpression on kubernetes.io/metadata.name", sel)
	}
	e := sel.MatchExpressions[0]
	if e.Key != "kubernetes.io/metadata.name" || e.Operator != metav1.LabelSelectorOpNotIn {
		t.Fatalf("namespaceSelector %+v: want kubernetes.io/metadata.name NotIn", e)
	}
	return e.Values
}

// TestOptOutLabel: the mutating webhook honours the opt-out label, the
// validating one only when optOut.validating is set.
func TestOptOutLabel(t *testing.T) {
	m, v := render(t, "").webhooks()
	sameYAML(t, "mutating objectSelector", optOutSelector("microguard.io/opt-out"), m.Webhooks[0].ObjectSelector)
	if v.Webhooks[0].ObjectSelector != nil {
		t.Errorf("validating objectSelector %+v by default: tenants could bypass validation", v.Webhooks[0].ObjectSelector)
	}
	m, v = render(t, "", "--set", "optOut.validating=true", "--set", "optOut.label=example.com/skip").webhooks()
	sameYAML(t, "mutating objectSelector", optOutSelector("example.com/skip"), m.Webhooks[0].ObjectSelector)
	sameYAML(t, "validating objectSelector", optOutSelector("example.com/skip"), v.Webhooks[0].ObjectSelector)
	m, _ = render(t, "", "--set", "optOut.mutating=false").webhooks()
	if m.Webhooks[0].ObjectSelector != nil {
		t.Errorf("optOut.mutating=false: objectSelector %+v", m.Webhooks[0].ObjectSelector)
	}
}

// TestOtherNamespaceAndName: the release namespace is always excluded and
// every name follows the full name.
func TestOtherNamespaceAndName(t *testing.T) {
	r := renderIn(t, "security", "", "--set", "fullnameOverride=guard", "--set", "webhooks.excludedNamespaces={kube-system}")
	m, v := r.webhooks()
	if m.Name != "guard" || v.Name != "guard" {
		t.Errorf("configuration names %q %q, want guard", m.Name, v.Name)
	}
	for _, sel := range []*metav1.LabelSelector{m.Webhooks[0].NamespaceSelector, v.Webhooks[0].NamespaceSelector} {
		if got := excludedNamespaces(t, sel); !slices.Equal(got, []string{"kube-system", "security"}) {
			t.Errorf("excluded namespaces %v, want [kube-system security]", got)
		}
	}
	if s := v.Webhooks[0].ClientConfig.Service; s.Name != "guard" || s.Namespace != "security" {
		t.Errorf("validating service %s/%s", s.Namespace, s.Name)
	}
	args := strings.Join(r.workload().container(t).Args, " ")
	for _, want := range []string{"--inject-ca-into=guard", "--cert-secret=security/guard-tls",
		"--cert-dns-names=guard,guard.security,guard.security.svc,guard.security.svc.cluster.local"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
}
