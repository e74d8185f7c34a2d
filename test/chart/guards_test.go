package chart

import (
	"strings"
	"testing"
)

// TestContradictoryValuesAreRefused: each template guard stops helm with a
// message that says what to change. They run with the schema skipped, so
// the guards themselves are tested (the schema catches some of them first).
func TestContradictoryValuesAreRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		set  []string
		want string
	}{
		{"no replicas", []string{"replicaCount=0"}, "replicaCount is 0"},
		{"timeout above 10", []string{"webhooks.timeoutSeconds=11"}, "webhooks.timeoutSeconds is 11"},
		{"timeout 0", []string{"webhooks.timeoutSeconds=0"}, "webhooks.timeoutSeconds is 0"},
		{"both certificate sources", []string{"certManager.enabled=true"}, "both true"},
		{"no certificate source", []string{"selfManagedCerts.enabled=false"}, "neither certManager.enabled nor selfManagedCerts.enabled"},
		{"postgres without DSN", []string{"decisionLog.store=postgres"}, "decisionLog.postgres.dsnSecret.name is empty"},
		{"DSN without postgres", []string{"decisionLog.postgres.dsnSecret.name=pg"}, `decisionLog.store is "sqlite"`},
		{"unknown store", []string{"decisionLog.store=mysql"}, `decisionLog.store is "mysql"`},
		{"PDB min and max", []string{"podDisruptionBudget.minAvailable=1"}, "not both"},
		{"PDB blocks drains", []string{"podDisruptionBudget.maxUnavailable=null", "podDisruptionBudget.minAvailable=2"}, "not below replicaCount"},
		{"PDB max 0", []string{"podDisruptionBudget.maxUnavailable=0"}, "maxUnavailable is 0"},
		{"signing key without a log", []string{"decisionLog.store=none", "decisionLog.signingKeySecret.name=k"}, "no log to sign"},
		{"signing key twice", []string{"decisionLog.signingKeySecret.name=k", "config.decisionLog.signingKey=/k"}, "both decisionLog.signingKeySecret and config.decisionLog.signingKey"},
		{"grace below preStop", []string{"terminationGracePeriodSeconds=5"}, "must exceed preStopSleepSeconds"},
		{"image timeout not below webhook timeout", []string{"config.policies.image-signature.action=deny", "config.policies.image-signature.timeout=5s"}, "is not below webhooks.timeoutSeconds"},
		{"cert-manager issuerRef without name", []string{"certManager.enabled=true", "selfManagedCerts.enabled=false", "certManager.issuerRef.kind=ClusterIssuer"}, "issuerRef is set without a name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"--skip-schema-validation"}
			for _, s := range c.set {
				args = append(args, "--set", s)
			}
			err := expectFailure(t, args...)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// TestSchemaRejectsUnknownAndBadValues: values.schema.json is strict, down
// to the microguard config file.
func TestSchemaRejectsUnknownAndBadValues(t *testing.T) {
	for _, c := range []struct {
		name string
		set  string
		want string
	}{
		{"unknown top-level key", "replicas=3", "replicas"},
		{"misspelt nested key", "image.tga=1.0", "tga"},
		{"misspelt security context", "securityContext.readOnlyRootFileSystem=true", "readOnlyRootFileSystem"},
		{"timeout above 10", "webhooks.timeoutSeconds=30", "timeoutSeconds"},
		{"bad failure policy", "webhooks.validating.failurePolicy=Sometimes", "failurePolicy"},
		{"unknown store", "decisionLog.store=mysql", "store"},
		{"misspelt config key", "config.policies.pod-security.levl=baseline", "levl"},
		{"misspelt decision log key", "config.decisionLog.onFailur=deny", "onFailur"},
		{"unknown mutation", "config.mutations.colour.enabled=true", "colour"},
		{"bad policy level", "config.policies.pod-security.level=strict", "level"},
		{"unquoted off", "config.policies.owner-labels.action=false", "action"},
		{"bad digest", "image.digest=latest", "digest"},
		{"misspelt topology key", "topologySpreadConstraints[0].topologyKeys=x", "topologyKeys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := expectFailure(t, "--set", c.set)
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q is not a schema error naming %q", err, c.want)
			}
		})
	}
}
