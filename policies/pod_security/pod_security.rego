# METADATA
# title: Pod Security Standards
# description: |
#   Pods and the pod templates of every workload kind meet the Kubernetes Pod
#   Security Standards at the configured level (baseline or restricted) and
#   policy version (latest or v1.N), exactly as the API server's PodSecurity
#   admission (k8s.io/pod-security-admission v0.37.2) decides them: the same
#   checks, versions and exemptions (Windows pods, user namespaces). Each
#   violation names the container, volume or pod field at fault, with the path
#   as submitted and what to write there. With allowNamespaceOverride, the
#   namespace labels pod-security.kubernetes.io/enforce and
#   pod-security.kubernetes.io/enforce-version choose the level and version.
# custom:
#   id: pod-security
#   defaultAction: deny
#   inline: false
#   options:
#     level:
#       type: string
#       enum: [restricted, baseline]
#       default: restricted
#       description: Pod Security Standards level every pod must meet (restricted includes baseline)
#     version:
#       type: string
#       pattern: '^(latest|v1\.(0|[1-9][0-9]*))$'
#       default: latest
#       description: policy version of the checks, latest or v1.N as in pod-security.kubernetes.io/enforce-version
#     allowNamespaceOverride:
#       type: bool
#       default: false
#       description: the namespace labels pod-security.kubernetes.io/enforce and enforce-version replace level and version (privileged turns the policy off there; an invalid label means restricted or latest, as upstream)
package microguard.policies.pod_security

import data.microguard.lib

params := data.microguard.config.policies["pod-security"]

# ---------------------------------------------------------------------------
# Effective level and version, computed once per request.
# ---------------------------------------------------------------------------

enforce_label := "pod-security.kubernetes.io/enforce"

enforce_version_label := "pod-security.kubernetes.io/enforce-version"

namespace_override if params.allowNamespaceOverride == true

# level is privileged, baseline or restricted. With the override on, a
# namespace label that is present decides; an invalid one fails closed to
# restricted, as upstream's PolicyToEvaluate does. (The option comes
# first: it is the usual case, and the cheapest to evaluate.)
level := object.get(params, "level", "restricted") if {
	not namespace_override
} else := l if {
	l := input.namespaceLabels[enforce_label]
	l in {"privileged", "baseline", "restricted"}
} else := "restricted" if {
	input.namespaceLabels[enforce_label]
} else := object.get(params, "level", "restricted")

# version is latest or v1.N; an invalid enforce-version label means latest.
version := object.get(params, "version", "latest") if {
	not namespace_override
} else := v if {
	v := input.namespaceLabels[enforce_version_label]
	valid_version(v)
} else := "latest" if {
	input.namespaceLabels[enforce_version_label]
} else := object.get(params, "version", "latest")

# valid_version accepts what api.ParseVersion accepts: latest, or v1.N with N
# an int that strconv.Atoi can read.
valid_version(v) if v == "latest"

valid_version(v) if {
	regex.match(`^v1\.([0-9]|[1-9][0-9]*)$`, v)
	fits_int64(substring(v, 3, -1))
}

fits_int64(digits) if count(digits) < 19

fits_int64(digits) if {
	count(digits) == 19
	digits <= "9223372036854775807"
}

# minor is the minor number of the version; latest is newer than any check
# (the newest MinimumVersion upstream is v1.37, so anything above behaves
# like latest).
minor := 9999 if version == "latest"

else := to_number(substring(version, 3, -1))

# ---------------------------------------------------------------------------
# Which checks apply: upstream's registry. A baseline check runs at baseline
# and restricted, unless (at restricted) a restricted check that applies at
# this version overrides it. A check applies from its first MinimumVersion.
# ---------------------------------------------------------------------------

baseline_since := {
	"appArmorProfile": 0,
	"capabilities_baseline": 0,
	"hostNamespaces": 0,
	"hostPathVolumes": 0,
	"hostPorts": 0,
	"hostProbesAndHostLifecycle": 34,
	"privileged": 0,
	"procMount": 0,
	"seLinuxOptions": 0,
	"seccompProfile_baseline": 0,
	"sysctls": 0,
	"windowsHostProcess": 0,
}

restricted_since := {
	"allowPrivilegeEscalation": 8,
	"capabilities_restricted": 22,
	"procMount_restricted": 35,
	"restrictedVolumes": 0,
	"runAsNonRoot": 0,
	"runAsUser": 23,
	"seccompProfile_restricted": 19,
}

# OverrideCheckIDs of the restricted checks (the same at every version).
overrides := {
	"capabilities_restricted": "capabilities_baseline",
	"procMount_restricted": "procMount",
	"restrictedVolumes": "hostPathVolumes",
	"seccompProfile_restricted": "seccompProfile_baseline",
}

# enabled is computed once per request. It is a complete rule whose inputs
# are bound to locals first: in OPA each reference to another rule is an
# evaluation step, so the loops below read locals only.
enabled := checks if {
	l := level
	m := minor
	ov := overrides
	restricted := {id |
		l == "restricted"
		some id, since in restricted_since
		m >= since
	}
	overridden := {ov[id] | some id in restricted}
	baseline := {id |
		l in {"baseline", "restricted"}
		some id, since in baseline_since
		m >= since
	}
	checks := (baseline - overridden) | restricted
}

# microguard runs upstream's checks (k8s.io/pod-security-admission) in Go
# ahead of this policy, at the level and version computed from the same
# options and namespace labels with upstream's own PolicyToEvaluate rules,
# and passes what failed as input.podSecurity: then only the failing
# checks' rules are evaluated, so a compliant pod costs no rule evaluation
# (not even level, version and enabled above). The parity tests hold both
# ways to the same verdict on every pod, level, version and namespace
# label. Without input.podSecurity (microguard check --bundle, opa eval,
# Rego tests) every enabled check runs.
#
# A check upstream found failing that no rule of this policy reports (the
# two disagree: a bug) still refuses the pod, with upstream's reason. Each
# failing check's rules are evaluated once, into vs.
violation contains v if {
	some id, f in input.podSecurity.failing
	vs := [x | some x in check[id]]
	some v in array.concat(vs, [unreported(id, f) | vs == []])
}

violation contains v if {
	not input.podSecurity
	some id in enabled
	some v in check[id]
}

# unreported is the violation for a failing check id whose rules reported
# nothing: upstream's reason f.
unreported(id, f) := {
	"rule": id,
	"message": sprintf("pod fails the %s Pod Security Standard check %s: %s", [input.podSecurity.level, id, concat("", [f.reason, detail(f)])]),
	"field": input.pods[f.pod].specPath,
	"hint": sprintf("make %s meet the %s Pod Security Standard (https://kubernetes.io/docs/concepts/security/pod-security-standards/)", [input.pods[f.pod].specPath, input.podSecurity.level]),
}

detail(f) := sprintf(" (%s)", [f.detail]) if f.detail != ""

else := ""

# ---------------------------------------------------------------------------
# What is checked: every pod entry, its containers of every kind (init,
# regular, ephemeral) and the security contexts that are set.
# ---------------------------------------------------------------------------

# container_kinds are the container lists of a pod spec, each with how a
# message names one of its containers: the checks iterate them as
# "some kind, word in container_kinds", which gives both in one step.
container_kinds := {"initContainers": "init container", "containers": "container", "ephemeralContainers": "ephemeral container"}

# What the containers' checks need to know of their pod, each a set of the
# pods (their indexes in input.pods) it holds for. Each tests the pod's own
# field first and the version last, so that a pod that does not set the
# field costs a lookup per check, and no version:
#   windows_pods:  from v1.25 a Windows pod (spec.os.name: windows) is exempt
#                  from allowPrivilegeEscalation, capabilities_restricted and
#                  seccompProfile_restricted;
#   userns_pods:   from v1.35 a pod in a user namespace (spec.hostUsers:
#                  false) is exempt from runAsNonRoot, runAsUser and
#                  baseline procMount;
#   run_as_non_root_pods, seccomp_pods: the pod sets
#                  securityContext.runAsNonRoot (true or false), or a
#                  securityContext.seccompProfile. Either way its containers
#                  that leave the field unset get no violation of their own:
#                  the pod complies for them, or its own violation names the
#                  one fix (the check fails either way, as upstream's does).
windows_pods contains pi if {
	some pi, p in input.pods
	p.spec.os.name == "windows"
	minor >= 25
}

userns_pods contains pi if {
	some pi, p in input.pods
	p.spec.hostUsers == false
	minor >= 35
}

run_as_non_root_pods contains pi if {
	some pi, p in input.pods
	is_boolean(p.spec.securityContext.runAsNonRoot)
}

seccomp_pods contains pi if {
	some pi, p in input.pods
	p.spec.securityContext.seccompProfile != null
}

# The container checks visit every container directly:
#
#   some p in input.pods
#   some kind, word in container_kinds
#   some i, c in p.spec[kind]
#
# and format where the container is (spec.containers[0]: p.specPath, kind
# and i) and who it is (container "app": word and name_of(c))
# only for a violation. (A set of every container with its path and name,
# built up front, cost about 10 us per container of a denied pod.) c may be
# null, a zero-value container in Go: the checks that fire on a field left
# unset fire for it too, and name_of(null) is "". The checks that depend on
# the pod read the sets above.

# name_of is a container's name as Go reads it ("" when unset or not a
# string).
name_of(c) := n if {
	n := c.name
	is_string(n)
} else := ""

object_or_empty(x) := x if is_object(x)

else := {}

# scs: every security context that is set, of the pod (who "pod") and of
# its containers; pi is the index of the pod in input.pods, scPath where the
# security context is.
scs contains {"pi": pi, "sc": sc, "scPath": concat("", [p.specPath, ".securityContext"]), "who": "pod"} if {
	some pi, p in input.pods
	sc := p.spec.securityContext
	is_object(sc)
}

scs contains {"pi": pi, "sc": sc, "scPath": sprintf("%s.%s[%d].securityContext", [p.specPath, kind, i]), "who": sprintf("%s %q", [word, name_of(c)])} if {
	some pi, p in input.pods
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	sc := c.securityContext
	is_object(sc)
}

# get is x[k], null when x is not an object or has no k (Go's nil / zero value).
get(x, k) := v if {
	is_object(x)
	v := x[k]
} else := null

# str is a string field as Go reads it: null or absent is "".
str(x) := x if is_string(x)

else := ""

# ---------------------------------------------------------------------------
# Baseline checks
# ---------------------------------------------------------------------------

# hostNamespaces: spec.hostNetwork, hostPID and hostIPC must not be true.
check.hostNamespaces contains {
	"rule": "hostNamespaces",
	"message": sprintf("pod must not set %s=true (it shares the node's namespaces)", [ns]),
	"field": field,
	"hint": sprintf("remove %s or set it to false", [field]),
} if {
	some p in input.pods
	some ns in ["hostNetwork", "hostPID", "hostIPC"]
	p.spec[ns] == true
	field := lib.join(p.specPath, ns)
}

# privileged: containers must not set securityContext.privileged=true.
check.privileged contains {
	"rule": "privileged",
	"message": sprintf("%s %q must not set securityContext.privileged=true", [word, name_of(c)]),
	"field": field,
	"hint": sprintf("remove %s or set it to false", [field]),
} if {
	some p in input.pods
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	c.securityContext.privileged == true
	field := sprintf("%s.%s[%d].securityContext.privileged", [p.specPath, kind, i])
}

# capabilities_baseline: only the default capabilities may be added.
baseline_capabilities := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

check.capabilities_baseline contains {
	"rule": "capabilities_baseline",
	"message": sprintf("%s %q must not add capability %q in securityContext.capabilities.add", [word, name_of(c), cap]),
	"field": lib.item(adds, j),
	"hint": sprintf("remove %q from %s; only %s may be added", [cap, adds, concat(", ", sort(baseline_capabilities))]),
} if {
	some p in input.pods
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	some j, a in c.securityContext.capabilities.add
	cap := str(a)
	not baseline_capabilities[cap]
	adds := sprintf("%s.%s[%d].securityContext.capabilities.add", [p.specPath, kind, i])
}

# hostPathVolumes: no hostPath volumes (restricted checks them as restrictedVolumes).
check.hostPathVolumes contains {
	"rule": "hostPathVolumes",
	"message": sprintf("volume %q must not use hostPath", [name]),
	"field": field,
	"hint": sprintf("remove volume %q (hostPath) — use a persistentVolumeClaim, configMap, secret or emptyDir", [name]),
} if {
	some p in input.pods
	some i, vol in p.spec.volumes
	vol.hostPath != null
	name := str(get(vol, "name"))
	field := concat("", [lib.item(lib.join(p.specPath, "volumes"), i), ".hostPath"])
}

# hostPorts: containers must not use host ports.
check.hostPorts contains {
	"rule": "hostPorts",
	"message": sprintf("%s %q must not use hostPort %v", [word, name_of(c), port]),
	"field": field,
	"hint": sprintf("remove %s (reach the container through a Service instead)", [field]),
} if {
	some p in input.pods
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	some j, cp in c.ports
	port := cp.hostPort
	port != null
	port != 0
	field := sprintf("%s.%s[%d].ports[%d].hostPort", [p.specPath, kind, i, j])
}

# hostProbesAndHostLifecycle (v1.34+): probes and lifecycle handlers must not
# set a host.
check.hostProbesAndHostLifecycle contains {
	"rule": "hostProbesAndHostLifecycle",
	"message": sprintf("%s %q must not set %s.%s.host (%q)", [word, name_of(c), probe, action, host]),
	"field": field,
	"hint": sprintf("remove %s; the kubelet then probes the pod's own IP", [field]),
} if {
	some p in input.pods
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	some probe in ["livenessProbe", "readinessProbe", "startupProbe"]
	some action in ["httpGet", "tcpSocket"]
	host := c[probe][action].host
	is_string(host)
	host != ""
	field := sprintf("%s.%s[%d].%s.%s.host", [p.specPath, kind, i, probe, action])
}

check.hostProbesAndHostLifecycle contains {
	"rule": "hostProbesAndHostLifecycle",
	"message": sprintf("%s %q must not set lifecycle.%s.%s.host (%q)", [word, name_of(c), hook, action, host]),
	"field": field,
	"hint": sprintf("remove %s; the handler then targets the pod's own IP", [field]),
} if {
	some p in input.pods
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	some hook in ["postStart", "preStop"]
	some action in ["httpGet", "tcpSocket"]
	host := c.lifecycle[hook][action].host
	is_string(host)
	host != ""
	field := sprintf("%s.%s[%d].lifecycle.%s.%s.host", [p.specPath, kind, i, hook, action])
}

# appArmorProfile: the AppArmor profile type must be RuntimeDefault or Localhost;
# the beta annotations must be runtime/default, localhost/* or empty.
apparmor_types := {"RuntimeDefault", "Localhost"}

check.appArmorProfile contains {
	"rule": "appArmorProfile",
	"message": sprintf("%s must not set securityContext.appArmorProfile.type to %q", [s.who, t]),
	"field": field,
	"hint": sprintf("set %s to RuntimeDefault (or Localhost with localhostProfile)", [field]),
} if {
	some s in scs
	profile := s.sc.appArmorProfile
	profile != null
	t := str(get(profile, "type"))
	not apparmor_types[t]
	field := concat("", [s.scPath, ".appArmorProfile.type"])
}

apparmor_annotation_prefix := "container.apparmor.security.beta.kubernetes.io/"

check.appArmorProfile contains {
	"rule": "appArmorProfile",
	"message": sprintf("annotation %q must not set AppArmor profile %q", [k, v]),
	"field": field,
	"hint": sprintf(`set annotation %q to "runtime/default" or "localhost/<profile>", or remove it and set securityContext.appArmorProfile.type to RuntimeDefault`, [k]),
} if {
	some p in input.pods
	some k, val in p.metadata.annotations
	startswith(k, apparmor_annotation_prefix)
	v := str(val)
	not apparmor_annotation_allowed(v)
	field := lib.join(concat("", [p.metadataPath, ".annotations"]), k)
}

apparmor_annotation_allowed(v) if v == ""

apparmor_annotation_allowed(v) if v == "runtime/default"

apparmor_annotation_allowed(v) if startswith(v, "localhost/")

# seLinuxOptions: type from the allowed list, no user, no role.
selinux_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"} if minor >= 31

else := {"", "container_t", "container_init_t", "container_kvm_t"}

check.seLinuxOptions contains {
	"rule": "seLinuxOptions",
	"message": sprintf("%s must not set securityContext.seLinuxOptions.type to %q", [s.who, t]),
	"field": field,
	"hint": sprintf("remove %s or set it to one of %s", [field, concat(", ", [t2 | some t2 in sort(selinux_types); t2 != ""])]),
} if {
	some s in scs
	opts := s.sc.seLinuxOptions
	opts != null
	t := str(get(opts, "type"))
	not selinux_types[t]
	field := concat("", [s.scPath, ".seLinuxOptions.type"])
}

check.seLinuxOptions contains {
	"rule": "seLinuxOptions",
	"message": sprintf("%s must not set securityContext.seLinuxOptions.%s", [s.who, key]),
	"field": field,
	"hint": sprintf("remove %s", [field]),
} if {
	some s in scs
	opts := s.sc.seLinuxOptions
	opts != null
	some key in ["user", "role"]
	str(get(opts, key)) != ""
	field := concat("", [s.scPath, ".seLinuxOptions.", key])
}

# procMount: containers must not set a procMount other than Default; from
# v1.35 baseline allows any value in a user namespace, and restricted keeps
# the unconditional check as procMount_restricted.
check.procMount contains {
	"rule": "procMount",
	"message": sprintf("%s %q must not set securityContext.procMount to %q", [word, name_of(c), pm]),
	"field": field,
	"hint": sprintf("remove %s or set it to Default", [field]),
} if {
	some pi, p in input.pods
	not userns_pods[pi]
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	pm := c.securityContext.procMount
	pm != null
	pm != "Default"
	field := sprintf("%s.%s[%d].securityContext.procMount", [p.specPath, kind, i])
}

# seccompProfile_baseline: before v1.19 the alpha annotations, from v1.19 the
# seccompProfile fields, when set, must name RuntimeDefault or Localhost.
seccomp_types := {"RuntimeDefault", "Localhost"}

seccomp_pod_annotation := "seccomp.security.alpha.kubernetes.io/pod"

seccomp_container_annotation_prefix := "container.seccomp.security.alpha.kubernetes.io/"

seccomp_annotation_allowed(v) if v == "runtime/default"

seccomp_annotation_allowed(v) if v == "docker/default"

seccomp_annotation_allowed(v) if startswith(v, "localhost/")

check.seccompProfile_baseline contains {
	"rule": "seccompProfile_baseline",
	"message": sprintf("annotation %q must not be %q", [seccomp_pod_annotation, v]),
	"field": lib.join(concat("", [p.metadataPath, ".annotations"]), seccomp_pod_annotation),
	"hint": sprintf(`set annotation %q to "runtime/default" or "localhost/<profile>", or remove it`, [seccomp_pod_annotation]),
} if {
	minor < 19
	some p in input.pods
	val := p.metadata.annotations[seccomp_pod_annotation]
	v := str(val)
	not seccomp_annotation_allowed(v)
}

check.seccompProfile_baseline contains {
	"rule": "seccompProfile_baseline",
	"message": sprintf("annotation %q of %s %q must not be %q", [key, word, name_of(c), v]),
	"field": lib.join(concat("", [p.metadataPath, ".annotations"]), key),
	"hint": sprintf(`set annotation %q to "runtime/default" or "localhost/<profile>", or remove it`, [key]),
} if {
	minor < 19
	some p in input.pods
	some kind, word in container_kinds
	some c in p.spec[kind]
	key := concat("", [seccomp_container_annotation_prefix, name_of(c)])
	val := p.metadata.annotations[key]
	v := str(val)
	not seccomp_annotation_allowed(v)
}

check.seccompProfile_baseline contains {
	"rule": "seccompProfile_baseline",
	"message": sprintf("%s must not set securityContext.seccompProfile.type to %q", [s.who, t]),
	"field": field,
	"hint": sprintf("set %s to RuntimeDefault (or Localhost with localhostProfile)", [field]),
} if {
	minor >= 19
	some s in scs
	t := bad_seccomp_type(s.sc)
	field := concat("", [s.scPath, ".seccompProfile.type"])
}

# bad_seccomp_type is the type of a seccompProfile that is set to a type
# other than RuntimeDefault or Localhost.
bad_seccomp_type(sc) := t if {
	profile := sc.seccompProfile
	profile != null
	t := str(get(profile, "type"))
	not seccomp_types[t]
}

# sysctls: only the safe sysctls of the version (each with the version that
# allowed it).
sysctls_since := {
	"kernel.shm_rmid_forced": 0,
	"net.ipv4.ip_local_port_range": 0,
	"net.ipv4.tcp_syncookies": 0,
	"net.ipv4.ping_group_range": 0,
	"net.ipv4.ip_unprivileged_port_start": 0,
	"net.ipv4.ip_local_reserved_ports": 27,
	"net.ipv4.tcp_keepalive_time": 29,
	"net.ipv4.tcp_fin_timeout": 29,
	"net.ipv4.tcp_keepalive_intvl": 29,
	"net.ipv4.tcp_keepalive_probes": 29,
	"net.ipv4.tcp_rmem": 32,
	"net.ipv4.tcp_wmem": 32,
	"net.ipv4.tcp_slow_start_after_idle": 37,
	"net.ipv4.tcp_notsent_lowat": 37,
}

sysctls_allowed := {name | some name, since in sysctls_since; minor >= since}

check.sysctls contains {
	"rule": "sysctls",
	"message": sprintf("pod must not set sysctl %q", [name]),
	"field": field,
	"hint": sprintf("remove %s; only %s may be set", [lib.item(concat("", [p.specPath, ".securityContext.sysctls"]), i), concat(", ", sort(sysctls_allowed))]),
} if {
	some p in input.pods
	some i, s in p.spec.securityContext.sysctls
	name := str(get(s, "name"))
	not sysctls_allowed[name]
	field := concat("", [lib.item(concat("", [p.specPath, ".securityContext.sysctls"]), i), ".name"])
}

# windowsHostProcess: pod and containers must not set windowsOptions.hostProcess=true.
check.windowsHostProcess contains {
	"rule": "windowsHostProcess",
	"message": sprintf("%s must not set securityContext.windowsOptions.hostProcess=true", [s.who]),
	"field": field,
	"hint": sprintf("remove %s or set it to false", [field]),
} if {
	some s in scs
	s.sc.windowsOptions.hostProcess == true
	field := concat("", [s.scPath, ".windowsOptions.hostProcess"])
}

# ---------------------------------------------------------------------------
# Restricted checks
# ---------------------------------------------------------------------------

# allowPrivilegeEscalation (v1.8+): every container sets it to false.
check.allowPrivilegeEscalation contains {
	"rule": "allowPrivilegeEscalation",
	"message": sprintf("%s %q must set securityContext.allowPrivilegeEscalation=false", [word, name_of(c)]),
	"field": field,
	"hint": sprintf("set %s to false", [field]),
} if {
	some pi, p in input.pods
	not windows_pods[pi]
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	not c.securityContext.allowPrivilegeEscalation == false
	field := sprintf("%s.%s[%d].securityContext.allowPrivilegeEscalation", [p.specPath, kind, i])
}

# capabilities_restricted (v1.22+): drop ALL, add at most NET_BIND_SERVICE.
check.capabilities_restricted contains {
	"rule": "capabilities_restricted",
	"message": sprintf(`%s %q must set securityContext.capabilities.drop=["ALL"]`, [word, name_of(c)]),
	"field": field,
	"hint": sprintf(`set %s to ["ALL"]`, [field]),
} if {
	some pi, p in input.pods
	not windows_pods[pi]
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	not drops_all(c)
	field := sprintf("%s.%s[%d].securityContext.capabilities.drop", [p.specPath, kind, i])
}

drops_all(c) if c.securityContext.capabilities.drop[_] == "ALL"

check.capabilities_restricted contains {
	"rule": "capabilities_restricted",
	"message": sprintf("%s %q must not add capability %q in securityContext.capabilities.add (only NET_BIND_SERVICE)", [word, name_of(c), cap]),
	"field": lib.item(adds, j),
	"hint": sprintf("remove %q from %s", [cap, adds]),
} if {
	some pi, p in input.pods
	not windows_pods[pi]
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	some j, a in c.securityContext.capabilities.add
	cap := str(a)
	cap != "NET_BIND_SERVICE"
	adds := sprintf("%s.%s[%d].securityContext.capabilities.add", [p.specPath, kind, i])
}

# procMount_restricted (v1.35+): procMount Default or unset, user namespace or not.
check.procMount_restricted contains {
	"rule": "procMount_restricted",
	"message": sprintf("%s %q must not set securityContext.procMount to %q", [word, name_of(c), pm]),
	"field": field,
	"hint": sprintf("remove %s or set it to Default", [field]),
} if {
	some p in input.pods
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	pm := c.securityContext.procMount
	pm != null
	pm != "Default"
	field := sprintf("%s.%s[%d].securityContext.procMount", [p.specPath, kind, i])
}

# restrictedVolumes: only configMap, csi, downwardAPI, emptyDir, ephemeral,
# image, persistentVolumeClaim, projected and secret volumes.
allowed_volume_types := ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"]

# In upstream's order: a volume that sets several types is named by the first.
restricted_volume_types := [
	"hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
	"rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte",
	"azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
]

allowed_volume(vol) if {
	some t in allowed_volume_types
	vol[t] != null
}

volume_type(vol) := types[0] if {
	types := [t | some t in restricted_volume_types; vol[t] != null]
	count(types) > 0
} else := "unknown"

check.restrictedVolumes contains {
	"rule": "restrictedVolumes",
	"message": sprintf("volume %q uses restricted volume type %q", [name, t]),
	"field": field,
	"hint": sprintf("remove volume %q (%s) — use a persistentVolumeClaim, configMap, secret or emptyDir", [name, t]),
} if {
	some p in input.pods
	some i, vol in p.spec.volumes
	not allowed_volume(vol)
	name := str(get(vol, "name"))
	t := volume_type(vol)
	field := volume_field(lib.item(lib.join(p.specPath, "volumes"), i), t)
}

volume_field(path, t) := path if t == "unknown"

else := concat(".", [path, t])

# runAsNonRoot: the pod or every container sets runAsNonRoot=true, none sets
# it to false; from v1.35 pods in a user namespace are exempt.
check.runAsNonRoot contains {
	"rule": "runAsNonRoot",
	"message": sprintf("%s must not set securityContext.runAsNonRoot=false", [s.who]),
	"field": field,
	"hint": sprintf("set %s to true", [field]),
} if {
	some s in scs
	not userns_pods[s.pi]
	s.sc.runAsNonRoot == false
	field := concat("", [s.scPath, ".runAsNonRoot"])
}

check.runAsNonRoot contains {
	"rule": "runAsNonRoot",
	"message": sprintf("%s %q must set securityContext.runAsNonRoot=true (or the pod must)", [word, name_of(c)]),
	"field": field,
	"hint": sprintf("set %s.securityContext.runAsNonRoot to true, or %s", [p.specPath, field]),
} if {
	some pi, p in input.pods
	not userns_pods[pi]
	not run_as_non_root_pods[pi]
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	object.get(object_or_empty(c), ["securityContext", "runAsNonRoot"], null) == null
	field := sprintf("%s.%s[%d].securityContext.runAsNonRoot", [p.specPath, kind, i])
}

# runAsUser (v1.23+): neither pod nor container sets runAsUser=0; from v1.35
# pods in a user namespace are exempt.
check.runAsUser contains {
	"rule": "runAsUser",
	"message": sprintf("%s must not set securityContext.runAsUser=0", [s.who]),
	"field": field,
	"hint": sprintf("set %s to a non-zero user id (e.g. 1000) or remove it", [field]),
} if {
	some s in scs
	not userns_pods[s.pi]
	s.sc.runAsUser == 0
	field := concat("", [s.scPath, ".runAsUser"])
}

# seccompProfile_restricted (v1.19+): the pod or every container sets the
# seccomp profile type to RuntimeDefault or Localhost.
check.seccompProfile_restricted contains {
	"rule": "seccompProfile_restricted",
	"message": sprintf("%s must not set securityContext.seccompProfile.type to %q", [s.who, t]),
	"field": field,
	"hint": sprintf("set %s to RuntimeDefault (or Localhost with localhostProfile)", [field]),
} if {
	some s in scs
	not windows_pods[s.pi]
	t := bad_seccomp_type(s.sc)
	field := concat("", [s.scPath, ".seccompProfile.type"])
}

check.seccompProfile_restricted contains {
	"rule": "seccompProfile_restricted",
	"message": sprintf(`%s %q must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost" (or the pod must)`, [word, name_of(c)]),
	"field": field,
	"hint": sprintf("set %s.securityContext.seccompProfile.type to RuntimeDefault (or Localhost with localhostProfile), or %s", [p.specPath, field]),
} if {
	some pi, p in input.pods
	not windows_pods[pi]
	not seccomp_pods[pi]
	some kind, word in container_kinds
	some i, c in p.spec[kind]
	object.get(object_or_empty(c), ["securityContext", "seccompProfile"], null) == null
	field := sprintf("%s.%s[%d].securityContext.seccompProfile.type", [p.specPath, kind, i])
}
