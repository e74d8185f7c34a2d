package microguard.policies.owner_labels_test

import data.microguard.policies.owner_labels

cfg(inherit) := {"policies": {"owner-labels": {"action": "deny", "labels": ["owner", "team"], "inheritFromNamespace": inherit, "valuePatterns": {}, "requiredByEnv": {}, "envLabel": "env"}}}

deployment(labels, tpl_labels) := {
	"kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
	"namespace": "shop", "name": "web",
	"subResource": "",
	"namespaceLabels": {"owner": "ns-owner"},
	"object": {"metadata": {"name": "web", "labels": labels}},
	"pods": [{"metadataPath": "spec.template.metadata", "specPath": "spec.template.spec", "metadata": {"labels": tpl_labels}, "spec": {}}],
}

test_compliant_deployment_has_no_violation if {
	inp := deployment({"owner": "ana", "team": "food"}, {"owner": "ana", "team": "food"})
	count(owner_labels.violation) == 0 with input as inp with data.microguard.config as cfg(false)
}

test_missing_on_object_and_template if {
	inp := deployment({"team": "food"}, {"team": "food"})
	vs := owner_labels.violation with input as inp with data.microguard.config as cfg(false)
	{v.field | some v in vs} == {"metadata.labels.owner", "spec.template.metadata.labels.owner"}
	some v in vs
	v.field == "spec.template.metadata.labels.owner"
	v.message == `the pod template of Deployment "web" has no "owner" label`
	v.hint == "add owner: <team or person that owns this app> under spec.template.metadata.labels"
}

test_empty_value_counts_as_missing if {
	inp := deployment({"owner": "", "team": "food"}, {"owner": "ana", "team": "food"})
	vs := owner_labels.violation with input as inp with data.microguard.config as cfg(false)
	{v.field | some v in vs} == {"metadata.labels.owner"}
}

test_namespace_label_counts_only_when_inherited if {
	inp := deployment({"team": "food"}, {"team": "food"})
	count(owner_labels.violation) == 2 with input as inp with data.microguard.config as cfg(false)
	count(owner_labels.violation) == 0 with input as inp with data.microguard.config as cfg(true)
}

test_inherited_hint_names_namespace if {
	inp := deployment({"team": "food", "owner": "x"}, {"owner": "x"})
	vs := owner_labels.violation with input as inp with data.microguard.config as cfg(true)
	some v in vs
	v.field == "spec.template.metadata.labels.team"
	v.hint == `add team: <value> under spec.template.metadata.labels, or label namespace "shop" with team`
}

test_pod_is_checked_once if {
	inp := {
		"kind": {"group": "", "version": "v1", "kind": "Pod"},
		"namespace": "shop", "name": "p", "subResource": "", "namespaceLabels": {},
		"object": {"metadata": {"name": "p"}},
		"pods": [{"metadataPath": "metadata", "specPath": "spec", "metadata": {"name": "p"}, "spec": {}}],
	}
	vs := owner_labels.violation with input as inp with data.microguard.config as cfg(false)
	{v.field | some v in vs} == {"metadata.labels.owner", "metadata.labels.team"}
}

test_label_keys_with_dots_are_quoted if {
	inp := deployment({}, {"app.kubernetes.io/owner": "x"})
	vs := owner_labels.violation with input as inp with data.microguard.config as {"policies": {"owner-labels": {"labels": ["app.kubernetes.io/owner"], "inheritFromNamespace": false, "valuePatterns": {}, "requiredByEnv": {}, "envLabel": "env"}}}
	{v.field | some v in vs} == {`metadata.labels["app.kubernetes.io/owner"]`}
}

test_ephemeral_containers_subresource_is_not_checked if {
	inp := object.union(deployment({}, {}), {"subResource": "ephemeralcontainers"})
	count(owner_labels.violation) == 0 with input as inp with data.microguard.config as cfg(false)
}

test_objects_without_pods_are_not_checked if {
	inp := object.union(deployment({}, {}), {"pods": []})
	count(owner_labels.violation) == 0 with input as inp with data.microguard.config as cfg(false)
}

test_cronjob_job_template_is_checked if {
	inp := {
		"kind": {"group": "batch", "version": "v1", "kind": "CronJob"},
		"namespace": "shop", "name": "digest", "subResource": "", "namespaceLabels": {},
		"object": {"metadata": {"name": "digest", "labels": {"owner": "ana"}}, "spec": {"jobTemplate": {"spec": {}}}},
		"pods": [{"metadataPath": "spec.jobTemplate.spec.template.metadata", "specPath": "spec.jobTemplate.spec.template.spec", "metadata": {"labels": {"owner": "ana"}}, "spec": {}}],
	}
	vs := owner_labels.violation with input as inp with data.microguard.config as {"policies": {"owner-labels": {"labels": ["owner"], "inheritFromNamespace": false, "valuePatterns": {}, "requiredByEnv": {}, "envLabel": "env"}}}
	{v.field | some v in vs} == {"spec.jobTemplate.metadata.labels.owner"}
	some v in vs
	v.message == `the job template of CronJob "digest" has no "owner" label`
}

grown_up := {"policies": {"owner-labels": {
	"labels": ["owner"], "inheritFromNamespace": false, "envLabel": "env",
	"valuePatterns": {"owner": `^[a-z0-9.-]+@example\.com$`},
	"requiredByEnv": {"prod": ["cost-center", "owner"]},
}}}

test_value_pattern if {
	good := deployment({"owner": "ana@example.com"}, {"owner": "ana@example.com"})
	count(owner_labels.violation) == 0 with input as good with data.microguard.config as grown_up
	bad := deployment({"owner": "ana"}, {"owner": "ana@example.com"})
	vs := owner_labels.violation with input as bad with data.microguard.config as grown_up
	count(vs) == 1
	some v in vs
	v.rule == "invalid-label-value"
	v.field == "metadata.labels.owner"
	v.message == `Deployment "web" has owner="ana", which does not match ^[a-z0-9.-]+@example\.com$`
	v.hint == `set metadata.labels.owner to a value that matches ^[a-z0-9.-]+@example\.com$`
}

test_required_by_env if {
	inp := object.union(deployment({"owner": "ana@example.com"}, {"owner": "ana@example.com"}), {"namespaceLabels": {"env": "prod"}})
	vs := owner_labels.violation with input as inp with data.microguard.config as grown_up
	{v.field | some v in vs} == {"metadata.labels.cost-center", "spec.template.metadata.labels.cost-center"}
	some v in vs
	v.field == "metadata.labels.cost-center"
	v.message == `Deployment "web" has no "cost-center" label (required where namespace label env=prod)`
	dev := object.union(inp, {"namespaceLabels": {"env": "dev"}})
	count(owner_labels.violation) == 0 with input as dev with data.microguard.config as grown_up
}
