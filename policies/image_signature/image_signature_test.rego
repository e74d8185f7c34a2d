package microguard.policies.image_signature_test

import data.microguard.policies.image_signature

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

params(unmatched) := {
	"action": "deny",
	"rules": [],
	"unmatched": unmatched,
	"timeout": "3s",
	"cacheTTL": "10m",
	"cacheSize": 10000,
}

cfg(unmatched) := {"image-signature": params(unmatched)}

app := "registry.example.com/team/app:1.0"

digest := "registry.example.com/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

spec(images) := {"containers": [{"name": sprintf("c%d", [i]), "image": img} | some i, img in images]}

pod(s, verification) := {
	"kind": {"group": "", "version": "v1", "kind": "Pod"},
	"namespace": "shop", "name": "p", "subResource": "", "operation": "CREATE",
	"namespaceLabels": {},
	"object": {"metadata": {"name": "p"}, "spec": s},
	"pods": [{"metadataPath": "metadata", "specPath": "spec", "metadata": {"name": "p"}, "spec": s}],
	"imageVerification": verification,
}

deployment(s, verification) := {
	"kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
	"namespace": "shop", "name": "web", "subResource": "", "operation": "CREATE",
	"namespaceLabels": {},
	"object": {"metadata": {"name": "web"}, "spec": {"template": {"metadata": {}, "spec": s}}},
	"pods": [{"metadataPath": "spec.template.metadata", "specPath": "spec.template.spec", "metadata": {}, "spec": s}],
	"imageVerification": verification,
}

violations(inp, unmatched) := vs if {
	vs := image_signature.violation with input as inp with data.microguard.config.policies as cfg(unmatched)
}

# The verifier's facts for one rule of each kind.
key_rule := {
	"rule": 0,
	"ruleImages": ["registry.example.com/team/**", "registry.example.com/base/*"],
	"trusts": ["key /etc/keys/a.pub", "key /etc/keys/b.pub"],
	"signKey": "/etc/keys/a.pub",
}

keyless_rule := {
	"rule": 2,
	"ruleImages": ["ghcr.io/org/**"],
	"trusts": ["identity issuer=https://token.actions.githubusercontent.com subject~=^https://github.com/org/.*$"],
}

fact(outcome, extra) := object.union({"outcome": outcome}, extra)

# ---------------------------------------------------------------------------
# One image, every outcome: the violation it gives in a Pod.
# ---------------------------------------------------------------------------

cases := [
	{
		"name": "unsigned, key rule",
		"fact": fact("unsigned", object.union(key_rule, {"reference": digest})),
		"want": {
			"rule": "unsigned",
			"message": sprintf(`image "%s" has no cosign signature (checked %s)`, [app, digest]),
			"hint": sprintf("sign it: cosign sign --key /etc/keys/a.pub %s", [digest]),
		},
	},
	{
		"name": "unsigned, keyless rule",
		"fact": fact("unsigned", object.union(keyless_rule, {"reference": digest})),
		"want": {
			"rule": "unsigned",
			"message": sprintf(`image "%s" has no cosign signature (checked %s)`, [app, digest]),
			"hint": sprintf("sign it keylessly from CI: cosign sign %s, with an identity that rules[2] trusts (identity issuer=https://token.actions.githubusercontent.com subject~=^https://github.com/org/.*$)", [digest]),
		},
	},
	{
		"name": "unsigned, no digest known",
		"fact": fact("unsigned", key_rule),
		"want": {
			"rule": "unsigned",
			"message": sprintf(`image "%s" has no cosign signature (checked %s)`, [app, app]),
			"hint": sprintf("sign it: cosign sign --key /etc/keys/a.pub %s", [app]),
		},
	},
	{
		"name": "untrusted",
		"fact": fact("untrusted", object.union(key_rule, {"reference": digest, "error": "no signature matched the 2 keys"})),
		"want": {
			"rule": "untrusted",
			"message": sprintf(`image "%s" is signed, but not by a key or identity that rules[0] (images: registry.example.com/team/**, registry.example.com/base/*) trusts: no signature matched the 2 keys`, [app]),
			"hint": sprintf("sign %s with one of: key /etc/keys/a.pub; key /etc/keys/b.pub", [digest]),
		},
	},
	{
		"name": "untrusted, no error text",
		"fact": fact("untrusted", object.union(keyless_rule, {"reference": digest})),
		"want": {
			"rule": "untrusted",
			"message": sprintf(`image "%s" is signed, but not by a key or identity that rules[2] (images: ghcr.io/org/**) trusts`, [app]),
			"hint": sprintf("sign %s with one of: identity issuer=https://token.actions.githubusercontent.com subject~=^https://github.com/org/.*$", [digest]),
		},
	},
	{
		"name": "unreachable",
		"fact": fact("unreachable", object.union(key_rule, {"error": "GET https://registry.example.com/v2/team/app/manifests/1.0: UNAUTHORIZED"})),
		"want": {
			"rule": "unreachable",
			"message": sprintf(`could not verify image "%s": GET https://registry.example.com/v2/team/app/manifests/1.0: UNAUTHORIZED; this is a registry or network problem, not a signature problem`, [app]),
			"hint": "check that the image exists, that its registry is reachable from microguard, and that the pod's imagePullSecrets or its service account's pull secrets grant access to it",
		},
	},
	{
		"name": "unmatched",
		"fact": fact("unmatched", {"reference": digest}),
		"want": {
			"rule": "unmatched",
			"message": sprintf(`no image-signature rule covers image "%s" (unmatched: deny)`, [app]),
			"hint": "use an image under a rule, or ask the cluster admin to add a rule for it in policies.image-signature.rules (or change unmatched)",
		},
	},
	{
		"name": "invalid",
		"fact": fact("invalid", {"error": "repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: Team/App"}),
		"want": {
			"rule": "invalid",
			"message": sprintf("image %q is not a valid image reference: repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: Team/App", [app]),
			"hint": "write the image as registry/repository:tag or registry/repository@sha256:<digest>",
		},
	},
	{
		"name": "unknown outcome fails closed",
		"fact": fact("skipped", {}),
		"want": {
			"rule": "not-verified",
			"message": sprintf(`image "%s" was not verified by microguard's signature verifier (outcome "skipped")`, [app]),
			"hint": "retry the request; if it fails again, microguard's verifier and policy bundle are out of step: tell the cluster admin",
		},
	},
	{
		"name": "no outcome fails closed",
		"fact": {"reference": digest},
		"want": {
			"rule": "not-verified",
			"message": sprintf(`image "%s" was not verified by microguard's signature verifier (outcome "")`, [app]),
			"hint": "retry the request; if it fails again, microguard's verifier and policy bundle are out of step: tell the cluster admin",
		},
	},
]

test_each_outcome if {
	every c in cases {
		vs := violations(pod(spec([app]), {app: c.fact}), "deny")
		vs == {object.union(c.want, {"field": "spec.containers[0].image"})}
	}
}

test_verified_and_unchanged_pass if {
	every o in ["verified", "unchanged"] {
		count(violations(pod(spec([app]), {app: fact(o, object.union(key_rule, {"reference": digest}))}), "deny")) == 0
		count(violations(deployment(spec([app]), {app: fact(o, {})}), "deny")) == 0
	}
}

# ---------------------------------------------------------------------------
# Fail closed: no facts at all, or none for this image.
# ---------------------------------------------------------------------------

not_verified(field, image) := {
	"rule": "not-verified",
	"message": sprintf("image %q was not verified by microguard's signature verifier", [image]),
	"field": field,
	"hint": "retry the request; microguard's signature verifier must run and reach the registry before the pod is admitted",
}

test_missing_image_verification_fails_closed if {
	inp := json.remove(pod(spec([app]), {}), ["imageVerification"])
	violations(inp, "allow") == {not_verified("spec.containers[0].image", app)}
}

test_image_without_entry_fails_closed if {
	other := "registry.example.com/team/other:2.0"
	inp := pod(spec([app, other]), {app: fact("verified", {})})
	violations(inp, "allow") == {not_verified("spec.containers[1].image", other)}
}

test_entry_that_is_not_an_object_fails_closed if {
	violations(pod(spec([app]), {app: "verified"}), "deny") == {not_verified("spec.containers[0].image", app)}
}

test_entry_key_is_the_image_as_written if {
	# The digest reference is not the image the container names.
	inp := pod(spec([app]), {digest: fact("verified", {})})
	violations(inp, "deny") == {not_verified("spec.containers[0].image", app)}
}

# ---------------------------------------------------------------------------
# Field paths: Pod and Deployment, init and ephemeral containers.
# ---------------------------------------------------------------------------

all_kinds := {
	"initContainers": [{"name": "init", "image": "registry.example.com/team/init:1"}],
	"containers": [
		{"name": "ok", "image": app},
		{"name": "bad", "image": "registry.example.com/team/bad:1"},
	],
	"ephemeralContainers": [{"name": "debug", "image": "registry.example.com/team/debug:1"}],
}

all_kinds_facts := {
	app: fact("verified", {}),
	"registry.example.com/team/init:1": fact("unsigned", key_rule),
	"registry.example.com/team/bad:1": fact("unsigned", key_rule),
	"registry.example.com/team/debug:1": fact("unsigned", key_rule),
}

test_pod_paths if {
	vs := violations(pod(all_kinds, all_kinds_facts), "deny")
	{v.field | some v in vs} == {"spec.initContainers[0].image", "spec.containers[1].image", "spec.ephemeralContainers[0].image"}
}

test_deployment_paths if {
	vs := violations(deployment(all_kinds, all_kinds_facts), "deny")
	{v.field | some v in vs} == {"spec.template.spec.initContainers[0].image", "spec.template.spec.containers[1].image", "spec.template.spec.ephemeralContainers[0].image"}
}

test_deployment_missing_facts_fail_closed if {
	inp := json.remove(deployment(all_kinds, {}), ["imageVerification"])
	vs := violations(inp, "deny")
	vs == {
		not_verified("spec.template.spec.initContainers[0].image", "registry.example.com/team/init:1"),
		not_verified("spec.template.spec.containers[0].image", app),
		not_verified("spec.template.spec.containers[1].image", "registry.example.com/team/bad:1"),
		not_verified("spec.template.spec.ephemeralContainers[0].image", "registry.example.com/team/debug:1"),
	}
}

test_same_image_twice_gives_one_violation_per_field if {
	s := {"initContainers": [{"name": "i", "image": app}], "containers": [{"name": "c", "image": app}]}
	vs := violations(deployment(s, {app: fact("invalid", {"error": "bad"})}), "deny")
	{v.field | some v in vs} == {"spec.template.spec.initContainers[0].image", "spec.template.spec.containers[0].image"}
}

test_cronjob_path if {
	s := spec([app])
	inp := {
		"kind": {"group": "batch", "version": "v1", "kind": "CronJob"},
		"namespace": "shop", "name": "digest", "subResource": "", "operation": "CREATE",
		"namespaceLabels": {},
		"object": {"metadata": {"name": "digest"}, "spec": {"jobTemplate": {"spec": {"template": {"metadata": {}, "spec": s}}}}},
		"pods": [{"metadataPath": "spec.jobTemplate.spec.template.metadata", "specPath": "spec.jobTemplate.spec.template.spec", "metadata": {}, "spec": s}],
		"imageVerification": {app: fact("unsigned", key_rule)},
	}
	{v.field | some v in violations(inp, "deny")} == {"spec.jobTemplate.spec.template.spec.containers[0].image"}
}

test_objects_without_pods_are_not_checked if {
	inp := object.union(pod(spec([app]), {}), {"pods": []})
	count(violations(inp, "deny")) == 0
}

# ---------------------------------------------------------------------------
# unmatched: deny, warn, allow.
# ---------------------------------------------------------------------------

unmatched_pod := pod(spec([app]), {app: fact("unmatched", {})})

test_unmatched_deny if {
	vs := violations(unmatched_pod, "deny")
	count(vs) == 1
	some v in vs
	v.rule == "unmatched"
	v.message == sprintf(`no image-signature rule covers image "%s" (unmatched: deny)`, [app])
	not v.action
}

test_unmatched_warn if {
	vs := violations(unmatched_pod, "warn")
	count(vs) == 1
	some v in vs
	v.rule == "unmatched"
	v.message == sprintf(`no image-signature rule covers image "%s" (unmatched: warn)`, [app])
	v.action == "warn"
}

test_unmatched_allow if {
	count(violations(unmatched_pod, "allow")) == 0
}

test_unmatched_allow_still_checks_covered_images if {
	other := "registry.example.com/team/other:2.0"
	inp := pod(spec([app, other]), {app: fact("unmatched", {}), other: fact("unsigned", key_rule)})
	{v.rule | some v in violations(inp, "allow")} == {"unsigned"}
}

# The engine keeps a violation's own action only when it is milder than the
# policy's (pkg/policy TestViolationActionIsNeverHarsher); unmatched: warn
# asks for warn.
test_unmatched_warn_asks_for_warn if {
	vs := violations(unmatched_pod, "warn")
	count(vs) == 1
	some v in vs
	v.action == "warn"
}
