package server

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/microguard/microguard/pkg/admission"
)

func clientConfig(paths *[]string) func(string) admissionregistrationv1.WebhookClientConfig {
	return func(path string) admissionregistrationv1.WebhookClientConfig {
		*paths = append(*paths, path)
		url := "https://microguard.example:9443" + path
		return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: []byte("ca")}
	}
}

func TestWebhookConfigurations(t *testing.T) {
	var paths []string
	excluded := []string{"kube-system", "kube-node-lease", "sandbox"}
	mwc, vwc := WebhookConfigurations(WebhookOptions{ClientConfig: clientConfig(&paths), ExcludedNamespaces: excluded})

	slices.Sort(paths)
	if !slices.Equal(paths, []string{MutatePath, ValidatePath}) {
		t.Errorf("ClientConfig called for %v", paths)
	}
	if mwc.Name != "microguard" || vwc.Name != "microguard" {
		t.Errorf("names = %q, %q", mwc.Name, vwc.Name)
	}
	if len(mwc.Webhooks) != 1 || len(vwc.Webhooks) != 1 {
		t.Fatalf("webhooks: %d mutating, %d validating; want one each", len(mwc.Webhooks), len(vwc.Webhooks))
	}
	m, v := mwc.Webhooks[0], vwc.Webhooks[0]

	t.Run("validating", func(t *testing.T) {
		if v.Name != ValidatingWebhookName {
			t.Errorf("name = %q", v.Name)
		}
		if v.ClientConfig.URL == nil || !strings.HasSuffix(*v.ClientConfig.URL, ValidatePath) {
			t.Errorf("client config = %+v, want the %s path", v.ClientConfig, ValidatePath)
		}
		if v.FailurePolicy == nil || *v.FailurePolicy != admissionregistrationv1.Fail {
			t.Errorf("failurePolicy = %v, want Fail", v.FailurePolicy)
		}
		common(t, v.MatchPolicy, v.SideEffects, v.TimeoutSeconds, v.AdmissionReviewVersions, 5)
		excludes(t, v.NamespaceSelector, excluded)

		got := map[string][]string{} // group -> resources
		for _, r := range v.Rules {
			ops := slices.Clone(r.Operations)
			slices.Sort(ops)
			if !slices.Equal(ops, []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}) {
				t.Errorf("rule %+v: operations %v, want CREATE and UPDATE", r.Rule, r.Operations)
			}
			wantScope := admissionregistrationv1.AllScopes // custom resources may be cluster-scoped
			if g := r.APIGroups[0]; g == "" || g == "apps" || g == "batch" {
				wantScope = admissionregistrationv1.NamespacedScope
			}
			if r.Scope == nil || *r.Scope != wantScope {
				t.Errorf("rule %+v: scope %v, want %s", r.Rule, r.Scope, wantScope)
			}
			if !slices.Equal(r.APIVersions, []string{"*"}) {
				t.Errorf("rule %+v: apiVersions %v, want every version", r.Rule, r.APIVersions)
			}
			for _, g := range r.APIGroups {
				got[g] = append(got[g], r.Resources...)
			}
		}
		want := map[string][]string{
			"":                              {"persistentvolumeclaims", "pods", "pods/ephemeralcontainers", "replicationcontrollers"},
			"apps":                          {"daemonsets", "deployments", "replicasets", "statefulsets"},
			"batch":                         {"cronjobs", "jobs"},
			"s3.services.k8s.aws":           {"buckets"},
			"s3.aws.upbound.io":             {"bucketacls", "bucketpublicaccessblocks"},
			"s3.aws.m.upbound.io":           {"bucketacls", "bucketpublicaccessblocks"},
			"storage.cnrm.cloud.google.com": {"storagebucketaccesscontrols", "storagebuckets", "storagedefaultobjectaccesscontrols"},
			"iam.cnrm.cloud.google.com":     {"iampartialpolicies", "iampolicies", "iampolicymembers"},
			"storage.azure.com":             {"storageaccounts", "storageaccountsblobservicescontainers"},
		}
		for g := range got {
			slices.Sort(got[g])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("validated resources = %v, want %v", got, want)
		}
		// Every kind the decoder checks is sent to the validating webhook.
		for _, gk := range admission.PodKinds() {
			res := strings.ToLower(gk.Kind) + "s"
			if !slices.Contains(got[gk.Group], res) {
				t.Errorf("pod kind %v (%s) is not validated", gk, res)
			}
		}
	})

	t.Run("mutating", func(t *testing.T) {
		if m.Name != MutatingWebhookName {
			t.Errorf("name = %q", m.Name)
		}
		if m.ClientConfig.URL == nil || !strings.HasSuffix(*m.ClientConfig.URL, MutatePath) {
			t.Errorf("client config = %+v, want the %s path", m.ClientConfig, MutatePath)
		}
		if m.FailurePolicy == nil || *m.FailurePolicy != admissionregistrationv1.Ignore {
			t.Errorf("failurePolicy = %v, want Ignore", m.FailurePolicy)
		}
		if m.ReinvocationPolicy == nil || *m.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
			t.Errorf("reinvocationPolicy = %v, want IfNeeded", m.ReinvocationPolicy)
		}
		common(t, m.MatchPolicy, m.SideEffects, m.TimeoutSeconds, m.AdmissionReviewVersions, 5)
		excludes(t, m.NamespaceSelector, excluded)
		if len(m.Rules) != 1 {
			t.Fatalf("rules = %+v, want one", m.Rules)
		}
		r := m.Rules[0]
		if !slices.Equal(r.APIGroups, []string{""}) || !slices.Equal(r.Resources, []string{"pods"}) {
			t.Errorf("mutating rule = %+v, want core pods", r.Rule)
		}
		if !slices.Contains(r.Operations, admissionregistrationv1.Create) {
			t.Errorf("mutating operations = %v, want CREATE among them", r.Operations)
		}
	})

	// The two selectors are separate values: editing one leaves the other.
	if m.NamespaceSelector == v.NamespaceSelector {
		t.Error("both webhooks share one namespace selector")
	}
}

func common(t *testing.T, match *admissionregistrationv1.MatchPolicyType, side *admissionregistrationv1.SideEffectClass, timeout *int32, versions []string, wantTimeout int32) {
	t.Helper()
	if match == nil || *match != admissionregistrationv1.Equivalent {
		t.Errorf("matchPolicy = %v, want Equivalent", match)
	}
	if side == nil || *side != admissionregistrationv1.SideEffectClassNoneOnDryRun {
		t.Errorf("sideEffects = %v, want NoneOnDryRun", side)
	}
	if timeout == nil || *timeout != wantTimeout {
		t.Errorf("timeoutSeconds = %v, want %d", timeout, wantTimeout)
	}
	if !slices.Equal(versions, []string{"v1"}) {
		t.Errorf("admissionReviewVersions = %v, want [v1]", versions)
	}
}

// excludes checks that the selector rejects exactly the excluded namespaces,
// by their kubernetes.io/metadata.name label.
func excludes(t *testing.T, sel *metav1.LabelSelector, excluded []string) {
	t.Helper()
	if sel == nil {
		t.Fatal("no namespaceSelector")
	}
	want := []metav1.LabelSelectorRequirement{{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: excluded}}
	if !reflect.DeepEqual(sel.MatchExpressions, want) || len(sel.MatchLabels) != 0 {
		t.Errorf("namespaceSelector = %+v, want %+v", sel, want)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("namespaceSelector: %v", err)
	}
	for _, ns := range append(slices.Clone(excluded), "default", "shop") {
		nsLabels := labels.Set{"kubernetes.io/metadata.name": ns}
		if got, want := s.Matches(nsLabels), !slices.Contains(excluded, ns); got != want {
			t.Errorf("namespace %s sent to microguard: %v, want %v", ns, got, want)
		}
	}
	// A tenant label cannot opt a namespace out.
	if !s.Matches(labels.Set{"kubernetes.io/metadata.name": "shop", "name": "kube-system"}) {
		t.Error("a namespace labelled name=kube-system is excluded")
	}
}

func TestWebhookConfigurationsOptions(t *testing.T) {
	var paths []string
	mwc, vwc := WebhookConfigurations(WebhookOptions{ClientConfig: clientConfig(&paths), TimeoutSeconds: 12})
	for name, ts := range map[string]*int32{"mutating": mwc.Webhooks[0].TimeoutSeconds, "validating": vwc.Webhooks[0].TimeoutSeconds} {
		if ts == nil || *ts != 12 {
			t.Errorf("%s timeoutSeconds = %v, want 12", name, ts)
		}
	}
	// No exclusions: every namespace is sent.
	for name, sel := range map[string]*metav1.LabelSelector{"mutating": mwc.Webhooks[0].NamespaceSelector, "validating": vwc.Webhooks[0].NamespaceSelector} {
		if sel == nil {
			t.Errorf("%s: no namespaceSelector", name)
			continue
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Matches(labels.Set{"kubernetes.io/metadata.name": "kube-system"}) || !s.Empty() {
			t.Errorf("%s namespaceSelector = %+v, want one that selects everything", name, sel)
		}
	}
}
