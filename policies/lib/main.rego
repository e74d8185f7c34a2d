# METADATA
# title: microguard entry point
# description: |
#   Collects the violations of every enabled policy and stamps each with its
#   policy id and action. The engine evaluates data.microguard.main.violations
#   once per request; policies never need to know about it.
package microguard.main

violations contains object.union(v, {"policy": id, "action": action}) if {
	some pkg, id in data.microguard.config.enabled
	action := data.microguard.config.policies[id].action
	some v in data.microguard.policies[pkg].violation
}
