# METADATA
# title: Owner labels
# description: |
#   Pods, workload objects and the pod templates inside them carry the labels
#   that say who owns them (default: owner), so that every running pod can be
#   traced to a person or team. With inheritFromNamespace, a label that the
#   namespace carries counts as present.
# custom:
#   id: owner-labels
#   defaultAction: deny
#   options:
#     labels:
#       type: stringList
#       default: [owner]
#       description: label keys every pod, workload and pod template must carry
#     inheritFromNamespace:
#       type: bool
#       default: false
#       description: a label present on the object's namespace counts as present
#     valuePatterns:
#       type: patternMap
#       default: {}
#       description: "a regular expression each label's value must match, e.g. owner: '^[a-z0-9.-]+@example\\.com$'"
#     requiredByEnv:
#       type: stringListMap
#       default: {}
#       description: "more labels required where the namespace's envLabel has this value, e.g. prod: [cost-center]"
#     envLabel:
#       type: string
#       default: env
#       description: the namespace label whose value selects requiredByEnv
package microguard.policies.owner_labels

import data.microguard.lib

params := data.microguard.config.policies["owner-labels"]

# The checked places: the submitted object itself, and every pod template in
# it (a Pod's own metadata is the object's, so it is not checked twice).
# what is how a message names the place, before lib.describe.
places contains {"path": "metadata", "meta": object.get(input.object, "metadata", {}), "what": ""}

places contains {"path": t.metadataPath, "meta": t.metadata, "what": "the pod template of "} if {
	some t in input.pods
	t.metadataPath != "metadata"
}

# A CronJob's Jobs take their labels from the job template, not from the pod
# template: without this, the CronJob is admitted and every Job it creates is
# denied later, where nobody reads the message.
places contains {"path": "spec.jobTemplate.metadata", "meta": object.get(input.object, ["spec", "jobTemplate", "metadata"], {}), "what": "the job template of "} if {
	input.kind.group == "batch"
	input.kind.kind == "CronJob"
}

# inherited are the labels the namespace gives every place, with
# inheritFromNamespace.
inherited contains label if {
	params.inheritFromNamespace
	some label, value in input.namespaceLabels
	value != ""
}

# Subresource requests (pods/ephemeralcontainers) cannot change labels.
applies if {
	input.subResource == ""
	count(input.pods) > 0
}

# required are the labels every place must carry: the configured ones, and
# those required where the namespace's env label has a given value.
required[label] := "" if some label in params.labels

# (The count comes first so that partial evaluation against the config
# drops this rule when requiredByEnv is empty, instead of looking up the
# namespace's env label on every request.)
required[label] := sprintf(" (required where namespace label %s=%s)", [params.envLabel, env]) if {
	count(params.requiredByEnv) > 0
	env := input.namespaceLabels[params.envLabel]
	some label in object.get(params.requiredByEnv, env, [])
	not label in params.labels
}

# Both rules test applies last: partial evaluation copies it into each of
# their rules, and on a compliant object the label test ends the rule
# first (a quarter of this policy's cost per request).
violation contains {
	"rule": "missing-label",
	"message": sprintf("%s%s has no %q label%s", [p.what, lib.describe, label, why]),
	"field": lib.join(concat("", [p.path, ".labels"]), label),
	"hint": hint(p.path, label),
} if {
	some p in places
	labels := lib.labels(p.meta)
	some label, why in required
	object.get(labels, label, "") == ""
	not inherited[label]
	applies
}

violation contains {
	"rule": "invalid-label-value",
	"message": sprintf("%s%s has %s=%q, which does not match %s", [p.what, lib.describe, label, value, pattern]),
	"field": field,
	"hint": sprintf("set %s to a value that matches %s", [field, pattern]),
} if {
	some label, pattern in params.valuePatterns
	some p in places
	value := lib.labels(p.meta)[label]
	value != ""
	not regex.match(pattern, value)
	applies
	field := lib.join(concat("", [p.path, ".labels"]), label)
}

hint(path, label) := sprintf("add %s: %s under %s.labels", [label, placeholder(label), path]) if not params.inheritFromNamespace

hint(path, label) := sprintf("add %s: %s under %s.labels, or label namespace %q with %s", [label, placeholder(label), path, input.namespace, label]) if params.inheritFromNamespace

# placeholder says what value to write.
placeholder(label) := sprintf("<a value matching %s>", [params.valuePatterns[label]]) if {
	params.valuePatterns[label]
} else := "<team or person that owns this app>" if {
	label == "owner"
} else := "<value>"
