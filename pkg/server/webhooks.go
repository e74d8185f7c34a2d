package server

import (
	"maps"
	"slices"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Webhook names as the API server (and kubectl's denial message) shows them.
const (
	MutatingWebhookName   = "mutate.microguard.io"
	ValidatingWebhookName = "validate.microguard.io"
)

// ValidatedResources are the resources the validating webhook sees, by API
// group: Pods and their ephemeral containers, and every built-in workload
// with a pod template.
var ValidatedResources = map[string][]string{
	"":      {"pods", "pods/ephemeralcontainers", "replicationcontrollers", "persistentvolumeclaims"},
	"apps":  {"deployments", "statefulsets", "daemonsets", "replicasets"},
	"batch": {"jobs", "cronjobs"},
	// Object-storage custom resources that can make data public.
	"s3.services.k8s.aws":           {"buckets"},
	"s3.aws.upbound.io":             {"bucketacls", "bucketpublicaccessblocks"},
	"s3.aws.m.upbound.io":           {"bucketacls", "bucketpublicaccessblocks"},
	"storage.cnrm.cloud.google.com": {"storagebuckets", "storagebucketaccesscontrols", "storagedefaultobjectaccesscontrols"},
	"iam.cnrm.cloud.google.com":     {"iampolicymembers", "iampolicies", "iampartialpolicies"},
	"storage.azure.com":             {"storageaccounts", "storageaccountsblobservicescontainers"},
}

// builtinGroups hold only namespaced kinds; custom resource groups may hold
// cluster-scoped ones (s3.aws.upbound.io), so their rules match any scope.
var builtinGroups = map[string]bool{"": true, "apps": true, "batch": true}

// WebhookOptions shape the webhook configurations.
type WebhookOptions struct {
	// ClientConfig says how the API server reaches path ("/mutate" or
	// "/validate").
	ClientConfig func(path string) admissionregistrationv1.WebhookClientConfig
	// ExcludedNamespaces are never sent to microguard, matched by the
	// immutable kubernetes.io/metadata.name label.
	ExcludedNamespaces []string
	TimeoutSeconds     int32
}

// WebhookConfigurations returns the mutating and validating webhook
// configurations: mutation fails open (a skipped mutation is caught by
// validation), validation fails closed.
func WebhookConfigurations(o WebhookOptions) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	if o.TimeoutSeconds == 0 {
		o.TimeoutSeconds = 5
	}
	sideEffects := admissionregistrationv1.SideEffectClassNoneOnDryRun
	equivalent := admissionregistrationv1.Equivalent
	ignore, fail := admissionregistrationv1.Ignore, admissionregistrationv1.Fail
	ifNeeded := admissionregistrationv1.IfNeededReinvocationPolicy
	selector := &metav1.LabelSelector{}
	if len(o.ExcludedNamespaces) > 0 {
		selector.MatchExpressions = []metav1.LabelSelectorRequirement{{
			Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: o.ExcludedNamespaces,
		}}
	}
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	scope := admissionregistrationv1.NamespacedScope

	var validateRules []admissionregistrationv1.RuleWithOperations
	anyScope := admissionregistrationv1.AllScopes
	for _, group := range slices.Sorted(maps.Keys(ValidatedResources)) {
		groupScope := &anyScope
		if builtinGroups[group] {
			groupScope = &scope
		}
		validateRules = append(validateRules, admissionregistrationv1.RuleWithOperations{
			Operations: ops,
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: ValidatedResources[group], Scope: groupScope},
		})
	}
	timeout := o.TimeoutSeconds
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "microguard"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    MutatingWebhookName,
			ClientConfig:            o.ClientConfig(MutatePath),
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: ops, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}, Scope: &scope}}},
			FailurePolicy:           &ignore,
			MatchPolicy:             &equivalent,
			NamespaceSelector:       selector.DeepCopy(),
			SideEffects:             &sideEffects,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			ReinvocationPolicy:      &ifNeeded,
		}},
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "microguard"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    ValidatingWebhookName,
			ClientConfig:            o.ClientConfig(ValidatePath),
			Rules:                   validateRules,
			FailurePolicy:           &fail,
			MatchPolicy:             &equivalent,
			NamespaceSelector:       selector.DeepCopy(),
			SideEffects:             &sideEffects,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	return mutating, validating
}
