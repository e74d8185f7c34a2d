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
package microguard.policies.owner_labels

import data.microguard.lib

params := data.microguard.config.policies["owner-labels"]

# The checked places: the submitted object itself, and every pod template in
# it (a Pod's own metadata is the object's, so it is not checked twice).
places contains {"path": "metadata", "meta": object.get(input.object, "metadata", {}), "what": lib.describe}

places contains {"path": t.metadataPath, "meta": t.metadata, "what": sprintf("the pod template of %s", [lib.describe])} if {
	some t in input.pods
	t.metadataPath != "metadata"
}

# A CronJob's Jobs take their labels from the job template, not from the pod
# template: without this, the CronJob is admitted and every Job it creates is
# denied later, where nobody reads the message.
places contains {"path": "spec.jobTemplate.metadata", "meta": object.get(input.object, ["spec", "jobTemplate", "metadata"], {}), "what": sprintf("the job template of %s", [lib.describe])} if {
	input.kind.group == "batch"
	input.kind.kind == "CronJob"
}

present(meta, label) if lib.labels(meta)[label] != ""

present(_, label) if {
	params.inheritFromNamespace
	input.namespaceLabels[label] != ""
}

# Subresource requests (pods/ephemeralcontainers) cannot change labels.
applies if {
	count(input.pods) > 0
	input.subResource == ""
}

violation contains {
	"rule": "missing-label",
	"message": sprintf("%s has no %q label", [p.what, label]),
	"field": lib.join(concat("", [p.path, ".labels"]), label),
	"hint": hint(p.path, label),
} if {
	applies
	some label in params.labels
	some p in places
	not present(p.meta, label)
}

hint(path, label) := sprintf("add %s: <team or person that owns this app> under %s.labels", [label, path]) if not params.inheritFromNamespace

hint(path, label) := sprintf("add %s: <team or person that owns this app> under %s.labels, or label namespace %q with %s", [label, path, input.namespace, label]) if params.inheritFromNamespace
