# METADATA
# title: microguard entry point
# description: |
#   Collects the violations of every enabled policy and stamps each with its
#   policy id and action. The engine evaluates data.microguard.main.violations
#   once per request; policies never need to know about it.
#
#   A policy may set "action" on a violation to make it milder than the
#   policy's configured action (warn or audit), never harsher: any other
#   value, or one harsher than the configured action, is replaced by the
#   configured action.
package microguard.main

violations contains object.union(v, {"policy": id, "action": effective(v, action)}) if {
	some pkg, id in data.microguard.config.enabled
	action := data.microguard.config.policies[id].action
	some v in data.microguard.policies[pkg].violation
}

# severity orders the actions a violation can carry, harshest last.
severity := {"audit": 1, "warn": 2, "deny": 3}

# effective is the action of violation v under configured: the action v asks
# for when it is warn or audit and milder than configured, else configured.
effective(v, configured) := asked if {
	asked := v.action
	asked in {"warn", "audit"}
	severity[asked] < severity[configured]
} else := configured
