# METADATA
# title: Image signatures
# description: |
#   Only images signed by a trusted key or identity run. Every image of every
#   container, init container and ephemeral container in a pod or pod
#   template must carry a cosign signature that the first rule whose images
#   patterns match it trusts: a public key (keys, keyRef) or a keyless
#   identity (keyless: issuer and subject, checked against the transparency
#   log and the trustedRoot). Images that no rule covers follow unmatched:
#   deny, warn or allow.
#
#   The facts come from microguard's cosign verifier, which resolves each
#   image to its digest and checks it before the policies run; this policy
#   only renders its outcome. An image the verifier did not report on is
#   denied (fail closed). The mutating webhook pins tags to the digests that
#   were verified, so the image that runs is the image that was checked.
# custom:
#   id: image-signature
#   inline: false
#   defaultAction: "off"
#   options:
#     rules:
#       type: objectList
#       default: []
#       description: "signature rules, first matching rule wins: images (patterns), keys, keyRef, tlog, keyless, trustedRoot"
#     unmatched:
#       type: string
#       enum: [deny, allow, warn]
#       default: deny
#       description: what happens to images no rule covers
#     timeout:
#       type: string
#       pattern: '^[0-9]+(ms|s|m)$'
#       default: 3s
#       description: how long one image's verification (registry look-ups included) may take, e.g. 3s or 500ms
#     cacheTTL:
#       type: string
#       pattern: '^[0-9]+(ms|s|m)$'
#       default: 10m
#       description: how long a verification result is reused, e.g. 10m
#     tagCacheTTL:
#       type: string
#       pattern: '^[0-9]+(ms|s|m)$'
#       default: 30s
#       description: how long the mutating webhook reuses the digest a tag resolved to while that digest verifies, e.g. 30s (0s never)
#     cacheSize:
#       type: int
#       default: 10000
#       description: how many verification results are kept in memory
package microguard.policies.image_signature

import data.microguard.lib

params := data.microguard.config.policies["image-signature"]

unmatched_setting := object.get(params, "unmatched", "deny")

container_kinds := ["initContainers", "containers", "ephemeralContainers"]

# at_fault are the container images that did not pass (verified, or
# unchanged on an update), each with where it is: pods[pi], its kind of
# container and index i. The violations below look at these only, so a pod
# whose images all pass costs one lookup per image.
at_fault := {{"image": c.image, "pi": pi, "kind": kind, "i": i} |
	some pi, p in input.pods
	some kind in container_kinds
	some i, c in p.spec[kind]
	is_string(c.image)
	not passes(c.image)
}

# passes: the verifier verified the image (or found it unchanged on an
# update).
passes(image) if input.imageVerification[image].outcome in {"verified", "unchanged"}

# The findings below are evaluated only when an image did not pass. The
# loop asks passes of each image first, with no set built, so that a pod
# whose images all pass costs only that (at_fault builds the set). (passes
# is a rule, not "not input.imageVerification[c.image].outcome in {...}"
# here: OPA evaluates that outcome before the not, and an image without one
# would then make the body fail, admitting the image, instead of failing
# the check.)
violation contains v if {
	some p in input.pods
	some kind in ["initContainers", "containers", "ephemeralContainers"]
	some c in p.spec[kind]
	not passes(c.image)
	count(at_fault) > 0
	some v in finding
}

# field is the path of the image an entry of images names.
field(x) := concat("", [lib.item(lib.join(input.pods[x.pi].specPath, x.kind), x.i), ".image"])

# entry is what the verifier reported on image, when it reported on it.
entry(image) := e if {
	e := input.imageVerification[image]
	is_object(e)
}

outcome(image) := o if {
	o := entry(image).outcome
	is_string(o)
} else := ""

known := {"verified", "unchanged", "unsigned", "untrusted", "unreachable", "unmatched", "invalid"}

# Optional facts of an entry, with a fallback so that a missing fact never
# makes a violation undefined (which would admit the image).
reference(image) := r if {
	r := entry(image).reference
	is_string(r)
	r != ""
} else := image

rule_name(image) := sprintf("rules[%d]", [n]) if {
	n := entry(image).rule
	is_number(n)
} else := "the matching rule"

rule_images(image) := concat(", ", [s | some s in entry(image).ruleImages; is_string(s)])

trusts(image) := t if {
	t := concat("; ", [s | some s in entry(image).trusts; is_string(s)])
	t != ""
} else := sprintf("the keys or identities that %s trusts", [rule_name(image)])

# detail(image, sep) is sep followed by the verifier's error, or "" without one.
detail(image, sep) := concat("", [sep, e]) if {
	e := entry(image).error
	is_string(e)
	e != ""
} else := ""

sign_key(image) := k if {
	k := entry(image).signKey
	is_string(k)
	k != ""
}

finding contains {
	"rule": "not-verified",
	"message": sprintf("image %q was not verified by microguard's signature verifier", [x.image]),
	"field": field(x),
	"hint": "retry the request; microguard's signature verifier must run and reach the registry before the pod is admitted",
} if {
	some x in at_fault
	not entry(x.image)
}

# An outcome this policy does not know is no pass either.
finding contains {
	"rule": "not-verified",
	"message": sprintf("image %q was not verified by microguard's signature verifier (outcome %q)", [x.image, outcome(x.image)]),
	"field": field(x),
	"hint": "retry the request; if it fails again, microguard's verifier and policy bundle are out of step: tell the cluster admin",
} if {
	some x in at_fault
	entry(x.image)
	not outcome(x.image) in known
}

finding contains {
	"rule": "unsigned",
	"message": sprintf("image %q has no cosign signature (checked %s)", [x.image, reference(x.image)]),
	"field": field(x),
	"hint": unsigned_hint(x.image),
} if {
	some x in at_fault
	outcome(x.image) == "unsigned"
}

unsigned_hint(image) := sprintf("sign it: cosign sign --key %s %s", [sign_key(image), reference(image)]) if {
	sign_key(image)
} else := sprintf("sign it keylessly from CI: cosign sign %s, with an identity that %s trusts (%s)", [reference(image), rule_name(image), trusts(image)])

finding contains {
	"rule": "untrusted",
	"message": sprintf("image %q is signed, but not by a key or identity that %s (images: %s) trusts%s", [x.image, rule_name(x.image), rule_images(x.image), detail(x.image, ": ")]),
	"field": field(x),
	"hint": sprintf("sign %s with one of: %s", [reference(x.image), trusts(x.image)]),
} if {
	some x in at_fault
	outcome(x.image) == "untrusted"
}

finding contains {
	"rule": "unreachable",
	"message": sprintf("could not verify image %q%s; this is a registry or network problem, not a signature problem", [x.image, detail(x.image, ": ")]),
	"field": field(x),
	"hint": "check that the image exists, that its registry is reachable from microguard, and that the pod's imagePullSecrets or its service account's pull secrets grant access to it",
} if {
	some x in at_fault
	outcome(x.image) == "unreachable"
}

finding contains object.union(
	{
		"rule": "unmatched",
		"message": sprintf("no image-signature rule covers image %q (unmatched: %s)", [x.image, unmatched_setting]),
		"field": field(x),
		"hint": "use an image under a rule, or ask the cluster admin to add a rule for it in policies.image-signature.rules (or change unmatched)",
	},
	unmatched_action,
) if {
	some x in at_fault
	outcome(x.image) == "unmatched"
	unmatched_setting != "allow"
}

# With unmatched: warn the violation only warns (the engine never lets it be
# harsher than the policy's action).
unmatched_action := {"action": "warn"} if unmatched_setting == "warn"

else := {}

finding contains {
	"rule": "invalid",
	"message": sprintf("image %q is not a valid image reference%s", [x.image, detail(x.image, ": ")]),
	"field": field(x),
	"hint": "write the image as registry/repository:tag or registry/repository@sha256:<digest>",
} if {
	some x in at_fault
	outcome(x.image) == "invalid"
}
