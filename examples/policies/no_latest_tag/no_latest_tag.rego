# METADATA
# title: No latest tag
# description: |
#   An example of a custom policy: containers name an image version, so that
#   what runs is what was reviewed. Load it with customPolicies in the config
#   or `microguard check --policies examples/policies`.
# custom:
#   id: no-latest-tag
#   defaultAction: deny
package microguard.policies.no_latest_tag

import data.microguard.lib

violation contains {
	"rule": "latest-tag",
	"message": sprintf("container %q uses image %q without a fixed version", [c.name, c.image]),
	"field": sprintf("%s.%s[%d].image", [p.specPath, kind, i]),
	"hint": sprintf("set %s.%s[%d].image to a versioned tag or digest, e.g. %s:1.2.3", [p.specPath, kind, i, repo(c.image)]),
} if {
	some p in input.pods
	some kind in ["initContainers", "containers"]
	some i, c in object.get(p.spec, kind, [])
	unpinned(c.image)
}

unpinned(image) if endswith(image, ":latest")

unpinned(image) if {
	not contains(image, "@")
	not regex.match(`:[^/]+$`, image)
}

repo(image) := trim_suffix(image, ":latest")
