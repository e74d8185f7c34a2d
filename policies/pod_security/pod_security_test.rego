package microguard.policies.pod_security_test

import data.microguard.policies.pod_security

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

cfg(level, version) := {"policies": {"pod-security": {"action": "deny", "level": level, "version": version, "allowNamespaceOverride": false}}}

cfg_override(level, version) := {"policies": {"pod-security": {"action": "deny", "level": level, "version": version, "allowNamespaceOverride": true}}}

# A restricted-compliant container and pod spec at every version.
good_container(name) := {
	"name": name,
	"image": "registry.example/app:1.0",
	"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
}

good_spec := {
	"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
	"containers": [good_container("app")],
}

pod(meta, spec) := {
	"kind": {"group": "", "version": "v1", "kind": "Pod"},
	"namespace": "shop", "name": "p", "subResource": "", "operation": "CREATE",
	"namespaceLabels": {},
	"object": {"metadata": meta, "spec": spec},
	"pods": [{"metadataPath": "metadata", "specPath": "spec", "metadata": meta, "spec": spec}],
}

deployment(spec) := {
	"kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
	"namespace": "shop", "name": "web", "subResource": "", "operation": "CREATE",
	"namespaceLabels": {},
	"object": {"metadata": {"name": "web"}, "spec": {"template": {"metadata": {}, "spec": spec}}},
	"pods": [{"metadataPath": "spec.template.metadata", "specPath": "spec.template.spec", "metadata": {}, "spec": spec}],
}

cronjob(spec) := {
	"kind": {"group": "batch", "version": "v1", "kind": "CronJob"},
	"namespace": "shop", "name": "digest", "subResource": "", "operation": "CREATE",
	"namespaceLabels": {},
	"object": {"metadata": {"name": "digest"}, "spec": {"jobTemplate": {"spec": {"template": {"metadata": {}, "spec": spec}}}}},
	"pods": [{"metadataPath": "spec.jobTemplate.spec.template.metadata", "specPath": "spec.jobTemplate.spec.template.spec", "metadata": {}, "spec": spec}],
}

# patch applies JSON patch operations to the compliant spec.
patch(ops) := json.patch(good_spec, ops)

add(path, value) := {"op": "add", "path": path, "value": value}

remove(path) := {"op": "remove", "path": path}

violations(inp, level, version) := vs if {
	vs := pod_security.violation with input as inp with data.microguard.config as cfg(level, version)
}

# rules: the set of check IDs a pod spec violates at level and version.
rules(spec, level, version) := {v.rule | some v in violations(pod({}, spec), level, version)}

rules_meta(meta, spec, level, version) := {v.rule | some v in violations(pod(meta, spec), level, version)}

fields(spec, level, version) := {v.field | some v in violations(pod({}, spec), level, version)}

all_versions := ["v1.0", "v1.7", "v1.8", "v1.18", "v1.19", "v1.21", "v1.22", "v1.23", "v1.24", "v1.25", "v1.30", "v1.31", "v1.34", "v1.35", "v1.37", "v1.99", "latest"]

# ---------------------------------------------------------------------------
# Compliant pods, defaults, levels
# ---------------------------------------------------------------------------

test_compliant_pod_passes_at_every_level_and_version if {
	every version in all_versions {
		rules(good_spec, "restricted", version) == set()
		rules(good_spec, "baseline", version) == set()
	}
}

test_defaults_are_restricted_latest if {
	spec := patch([remove("/securityContext/seccompProfile")])
	vs := pod_security.violation with input as pod({}, spec) with data.microguard.config as {"policies": {"pod-security": {"action": "deny"}}}
	{v.rule | some v in vs} == {"seccompProfile_restricted"}
}

test_baseline_ignores_restricted_checks if {
	spec := {"containers": [{"name": "app", "image": "x"}]}
	rules(spec, "baseline", "latest") == set()
	rules(spec, "restricted", "latest") == {"allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot", "seccompProfile_restricted"}
}

test_latest_is_the_newest_version if {
	spec := {
		"hostNetwork": true,
		"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}, {"name": "kernel.msgmax", "value": "1"}]},
		"containers": [{"name": "app", "image": "x", "livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}}}],
	}
	rules(spec, "restricted", "latest") == rules(spec, "restricted", "v1.37")
	rules(spec, "restricted", "latest") == rules(spec, "restricted", "v1.1000")
	rules(spec, "baseline", "latest") == {"hostNamespaces", "hostProbesAndHostLifecycle", "sysctls"}
}

test_every_violation_has_rule_message_field_hint if {
	spec := {
		"hostNetwork": true, "hostPID": true, "hostIPC": true,
		"securityContext": {
			"runAsNonRoot": false, "runAsUser": 0,
			"seccompProfile": {"type": "Unconfined"}, "appArmorProfile": {"type": "Unconfined"},
			"seLinuxOptions": {"type": "spc_t", "user": "u", "role": "r"},
			"sysctls": [{"name": "kernel.msgmax", "value": "1"}],
			"windowsOptions": {"hostProcess": true},
		},
		"initContainers": [{"name": "init", "image": "x", "securityContext": {"privileged": true, "procMount": "Unmasked", "capabilities": {"add": ["SYS_ADMIN"]}}}],
		"containers": [{"name": "app", "image": "x", "ports": [{"containerPort": 80, "hostPort": 80}], "readinessProbe": {"tcpSocket": {"host": "h", "port": 80}}}],
		"volumes": [{"name": "host", "hostPath": {"path": "/"}}],
	}
	vs := violations(pod({"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}}, spec), "restricted", "latest")
	count(vs) > 20
	every v in vs {
		v.rule != ""
		v.message != ""
		v.field != ""
		v.hint != ""
	}
}

# ---------------------------------------------------------------------------
# Baseline checks
# ---------------------------------------------------------------------------

test_host_namespaces if {
	vs := violations(pod({}, object.union(good_spec, {"hostNetwork": true, "hostPID": false})), "baseline", "latest")
	{v.field | some v in vs} == {"spec.hostNetwork"}
	some v in vs
	v.rule == "hostNamespaces"
	v.message == "pod must not set hostNetwork=true (it shares the node's namespaces)"
	v.hint == "remove spec.hostNetwork or set it to false"
	rules(object.union(good_spec, {"hostIPC": true}), "baseline", "v1.0") == {"hostNamespaces"}
	rules(object.union(good_spec, {"hostNetwork": false, "hostPID": null}), "baseline", "latest") == set()
}

test_privileged if {
	vs := violations(pod({}, patch([add("/containers/0/securityContext/privileged", true)])), "baseline", "latest")
	{[v.rule, v.field, v.message] | some v in vs} == {["privileged", "spec.containers[0].securityContext.privileged", `container "app" must not set securityContext.privileged=true`]}
	rules(patch([add("/containers/0/securityContext/privileged", false)]), "baseline", "latest") == set()
	rules(patch([add("/containers/0/securityContext/privileged", null)]), "baseline", "latest") == set()
}

test_capabilities_baseline if {
	spec := patch([add("/containers/0/securityContext/capabilities/add", ["CHOWN", "NET_ADMIN", "chown"])])
	vs := violations(pod({}, spec), "baseline", "latest")
	{v.field | some v in vs} == {"spec.containers[0].securityContext.capabilities.add[1]", "spec.containers[0].securityContext.capabilities.add[2]"}
	{v.rule | some v in vs} == {"capabilities_baseline"}
	some v in vs
	v.field == "spec.containers[0].securityContext.capabilities.add[1]"
	v.message == `container "app" must not add capability "NET_ADMIN" in securityContext.capabilities.add`
	startswith(v.hint, `remove "NET_ADMIN" from spec.containers[0].securityContext.capabilities.add; only AUDIT_WRITE, CHOWN,`)
	rules(patch([add("/containers/0/securityContext/capabilities/add", ["CHOWN", "SYS_CHROOT"])]), "baseline", "latest") == set()
}

test_capabilities_baseline_runs_at_restricted_before_v1_22 if {
	spec := patch([add("/containers/0/securityContext/capabilities/add", ["SYS_ADMIN"])])
	rules(spec, "restricted", "v1.21") == {"capabilities_baseline"}
	rules(spec, "restricted", "v1.22") == {"capabilities_restricted"}
}

test_host_path_volumes if {
	spec := object.union(good_spec, {"volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "host", "hostPath": {"path": "/var/run"}}]})
	vs := violations(pod({}, spec), "baseline", "latest")
	{[v.rule, v.field] | some v in vs} == {["hostPathVolumes", "spec.volumes[1].hostPath"]}
	some v in vs
	v.hint == `remove volume "host" (hostPath) — use a persistentVolumeClaim, configMap, secret or emptyDir`

	# restricted checks hostPath as a restricted volume type instead
	rules(spec, "restricted", "latest") == {"restrictedVolumes"}
	rules(object.union(good_spec, {"volumes": [{"name": "host", "hostPath": null, "emptyDir": {}}]}), "baseline", "latest") == set()
}

test_host_ports if {
	spec := patch([add("/containers/0/ports", [{"containerPort": 80}, {"containerPort": 443, "hostPort": 0}, {"containerPort": 8080, "hostPort": 8080}])])
	vs := violations(pod({}, spec), "baseline", "latest")
	{[v.rule, v.field, v.message] | some v in vs} == {["hostPorts", "spec.containers[0].ports[2].hostPort", `container "app" must not use hostPort 8080`]}
	rules(patch([add("/containers/0/ports", [{"containerPort": 80, "hostPort": null}])]), "baseline", "latest") == set()
}

test_host_probes_and_lifecycle_from_v1_34 if {
	spec := patch([
		add("/containers/0/livenessProbe", {"httpGet": {"port": 80, "host": "169.254.169.254"}}),
		add("/containers/0/readinessProbe", {"tcpSocket": {"port": 80, "host": ""}}),
		add("/containers/0/lifecycle", {"preStop": {"tcpSocket": {"port": 80, "host": "10.0.0.1"}}}),
	])
	fields(spec, "baseline", "v1.34") == {"spec.containers[0].livenessProbe.httpGet.host", "spec.containers[0].lifecycle.preStop.tcpSocket.host"}
	rules(spec, "restricted", "latest") == {"hostProbesAndHostLifecycle"}
	rules(spec, "baseline", "v1.33") == set()
}

test_app_armor_profile_fields if {
	spec := patch([
		add("/securityContext/appArmorProfile", {"type": "Unconfined"}),
		add("/containers/0/securityContext/appArmorProfile", {}),
	])
	vs := violations(pod({}, spec), "baseline", "v1.0")
	{[v.rule, v.field] | some v in vs} == {
		["appArmorProfile", "spec.securityContext.appArmorProfile.type"],
		["appArmorProfile", "spec.containers[0].securityContext.appArmorProfile.type"],
	}
	ok := patch([
		add("/securityContext/appArmorProfile", {"type": "RuntimeDefault"}),
		add("/containers/0/securityContext/appArmorProfile", {"type": "Localhost", "localhostProfile": "p"}),
	])
	rules(ok, "restricted", "latest") == set()
}

test_app_armor_annotations if {
	meta := {"annotations": {
		"container.apparmor.security.beta.kubernetes.io/app": "unconfined",
		"container.apparmor.security.beta.kubernetes.io/side": "runtime/default",
		"container.apparmor.security.beta.kubernetes.io/x": "localhost/custom",
		"container.apparmor.security.beta.kubernetes.io/y": "",
	}}
	vs := violations(pod(meta, good_spec), "baseline", "latest")
	{[v.rule, v.field] | some v in vs} == {["appArmorProfile", `metadata.annotations["container.apparmor.security.beta.kubernetes.io/app"]`]}
	some v in vs
	v.message == `annotation "container.apparmor.security.beta.kubernetes.io/app" must not set AppArmor profile "unconfined"`
}

test_selinux_options if {
	spec := patch([
		add("/securityContext/seLinuxOptions", {"type": "spc_t", "level": "s0:c1"}),
		add("/containers/0/securityContext/seLinuxOptions", {"user": "system_u", "role": ""}),
	])
	vs := violations(pod({}, spec), "baseline", "latest")
	{[v.rule, v.field] | some v in vs} == {
		["seLinuxOptions", "spec.securityContext.seLinuxOptions.type"],
		["seLinuxOptions", "spec.containers[0].securityContext.seLinuxOptions.user"],
	}
	rules(patch([add("/securityContext/seLinuxOptions", {"type": "container_t", "level": "s0:c1"})]), "baseline", "latest") == set()
}

test_selinux_container_engine_t_from_v1_31 if {
	spec := patch([add("/containers/0/securityContext/seLinuxOptions", {"type": "container_engine_t"})])
	rules(spec, "baseline", "v1.30") == {"seLinuxOptions"}
	rules(spec, "baseline", "v1.31") == set()
}

test_proc_mount_baseline_and_user_namespaces if {
	spec := patch([add("/containers/0/securityContext/procMount", "Unmasked")])
	rules(spec, "baseline", "v1.0") == {"procMount"}
	rules(patch([add("/containers/0/securityContext/procMount", "Default")]), "baseline", "latest") == set()

	# from v1.35 baseline allows it in a user namespace
	userns := object.union(spec, {"hostUsers": false})
	rules(userns, "baseline", "v1.34") == {"procMount"}
	rules(userns, "baseline", "v1.35") == set()
	rules(object.union(spec, {"hostUsers": true}), "baseline", "v1.35") == {"procMount"}
}

test_proc_mount_restricted_overrides_baseline_from_v1_35 if {
	spec := object.union(patch([add("/containers/0/securityContext/procMount", "Unmasked")]), {"hostUsers": false})
	rules(spec, "restricted", "v1.34") == {"procMount"}
	rules(spec, "restricted", "v1.35") == {"procMount_restricted"}
	rules(spec, "restricted", "latest") == {"procMount_restricted"}
}

test_seccomp_baseline_annotations_before_v1_19 if {
	meta := {"annotations": {
		"seccomp.security.alpha.kubernetes.io/pod": "unconfined",
		"container.seccomp.security.alpha.kubernetes.io/app": "",
		"container.seccomp.security.alpha.kubernetes.io/gone": "unconfined",
	}}
	spec := {"containers": [{"name": "app", "image": "x"}]}
	vs := violations(pod(meta, spec), "baseline", "v1.18")
	{[v.rule, v.field] | some v in vs} == {
		["seccompProfile_baseline", `metadata.annotations["seccomp.security.alpha.kubernetes.io/pod"]`],
		["seccompProfile_baseline", `metadata.annotations["container.seccomp.security.alpha.kubernetes.io/app"]`],
	}
	rules_meta(meta, spec, "baseline", "v1.19") == set()
	rules_meta({"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "docker/default", "container.seccomp.security.alpha.kubernetes.io/app": "localhost/p"}}, spec, "baseline", "v1.0") == set()

	# at restricted before v1.19 the baseline annotation check still runs
	rules_meta(meta, good_spec, "restricted", "v1.18") == {"seccompProfile_baseline"}
}

test_seccomp_baseline_fields_from_v1_19 if {
	spec := patch([add("/containers/0/securityContext/seccompProfile", {"type": "Unconfined"})])
	vs := violations(pod({}, spec), "baseline", "v1.19")
	{[v.rule, v.field] | some v in vs} == {["seccompProfile_baseline", "spec.containers[0].securityContext.seccompProfile.type"]}
	rules(spec, "baseline", "v1.18") == set()
	rules(spec, "restricted", "v1.19") == {"seccompProfile_restricted"}
}

sysctl_spec(name) := patch([add("/securityContext/sysctls", [{"name": "kernel.shm_rmid_forced", "value": "1"}, {"name": name, "value": "1"}])])

test_sysctls_allowed_per_version if {
	vs := violations(pod({}, sysctl_spec("kernel.msgmax")), "baseline", "latest")
	{[v.rule, v.field, v.message] | some v in vs} == {["sysctls", "spec.securityContext.sysctls[1].name", `pod must not set sysctl "kernel.msgmax"`]}
	rules(sysctl_spec("net.ipv4.ip_local_reserved_ports"), "baseline", "v1.26") == {"sysctls"}
	rules(sysctl_spec("net.ipv4.ip_local_reserved_ports"), "baseline", "v1.27") == set()
	rules(sysctl_spec("net.ipv4.tcp_keepalive_time"), "baseline", "v1.28") == {"sysctls"}
	rules(sysctl_spec("net.ipv4.tcp_keepalive_time"), "baseline", "v1.29") == set()
	rules(sysctl_spec("net.ipv4.tcp_wmem"), "baseline", "v1.31") == {"sysctls"}
	rules(sysctl_spec("net.ipv4.tcp_wmem"), "baseline", "v1.32") == set()
	rules(sysctl_spec("net.ipv4.tcp_notsent_lowat"), "baseline", "v1.36") == {"sysctls"}
	rules(sysctl_spec("net.ipv4.tcp_notsent_lowat"), "baseline", "v1.37") == set()
}

test_windows_host_process if {
	spec := patch([
		add("/securityContext/windowsOptions", {"hostProcess": true}),
		add("/containers/0/securityContext/windowsOptions", {"hostProcess": false}),
	])
	vs := violations(pod({}, spec), "baseline", "latest")
	{[v.rule, v.field] | some v in vs} == {["windowsHostProcess", "spec.securityContext.windowsOptions.hostProcess"]}
	rules(patch([add("/containers/0/securityContext/windowsOptions", {"hostProcess": true})]), "baseline", "v1.0") == {"windowsHostProcess"}
}

# ---------------------------------------------------------------------------
# Restricted checks
# ---------------------------------------------------------------------------

test_allow_privilege_escalation if {
	spec := patch([remove("/containers/0/securityContext/allowPrivilegeEscalation")])
	vs := violations(pod({}, spec), "restricted", "latest")
	count(vs) == 1
	some v in vs
	v.rule == "allowPrivilegeEscalation"
	v.field == "spec.containers[0].securityContext.allowPrivilegeEscalation"
	v.message == `container "app" must set securityContext.allowPrivilegeEscalation=false`
	v.hint == "set spec.containers[0].securityContext.allowPrivilegeEscalation to false"
	rules(patch([add("/containers/0/securityContext/allowPrivilegeEscalation", true)]), "restricted", "latest") == {"allowPrivilegeEscalation"}
	rules(patch([add("/containers/0/securityContext/allowPrivilegeEscalation", null)]), "restricted", "latest") == {"allowPrivilegeEscalation"}
}

test_allow_privilege_escalation_from_v1_8 if {
	spec := patch([remove("/containers/0/securityContext/allowPrivilegeEscalation")])
	rules(spec, "restricted", "v1.7") == set()
	rules(spec, "restricted", "v1.8") == {"allowPrivilegeEscalation"}
}

test_capabilities_restricted if {
	spec := {
		"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
		"initContainers": [{"name": "init", "image": "x", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["all"]}}}],
		"containers": [
			good_container("app"),
			{"name": "web", "image": "x", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}}},
		],
	}
	vs := violations(pod({}, spec), "restricted", "latest")
	{[v.rule, v.field] | some v in vs} == {
		["capabilities_restricted", "spec.initContainers[0].securityContext.capabilities.drop"],
		["capabilities_restricted", "spec.containers[1].securityContext.capabilities.add[1]"],
	}
	some v in vs
	v.field == "spec.initContainers[0].securityContext.capabilities.drop"
	v.message == `init container "init" must set securityContext.capabilities.drop=["ALL"]`
	v.hint == `set spec.initContainers[0].securityContext.capabilities.drop to ["ALL"]`
}

test_capabilities_restricted_from_v1_22 if {
	spec := patch([remove("/containers/0/securityContext/capabilities")])
	rules(spec, "restricted", "v1.21") == set()
	rules(spec, "restricted", "v1.22") == {"capabilities_restricted"}
}

test_restricted_volumes if {
	spec := object.union(good_spec, {"volumes": [
		{"name": "data", "persistentVolumeClaim": {"claimName": "d"}},
		{"name": "share", "nfs": {"server": "nfs", "path": "/"}},
		{"name": "bare"},
		{"name": "tmp", "emptyDir": {}},
	]})
	vs := violations(pod({}, spec), "restricted", "latest")
	{[v.rule, v.field] | some v in vs} == {["restrictedVolumes", "spec.volumes[1].nfs"], ["restrictedVolumes", "spec.volumes[2]"]}
	some v in vs
	v.field == "spec.volumes[1].nfs"
	v.message == `volume "share" uses restricted volume type "nfs"`
	v.hint == `remove volume "share" (nfs) — use a persistentVolumeClaim, configMap, secret or emptyDir`
	rules(spec, "baseline", "latest") == set()
}

test_run_as_non_root if {
	# container missing, pod not set: the hint names both places
	spec := patch([remove("/securityContext/runAsNonRoot")])
	vs := violations(pod({}, spec), "restricted", "latest")
	count(vs) == 1
	some v in vs
	v.rule == "runAsNonRoot"
	v.field == "spec.containers[0].securityContext.runAsNonRoot"
	v.hint == "set spec.securityContext.runAsNonRoot to true, or spec.containers[0].securityContext.runAsNonRoot"

	# container true is enough
	rules(patch([remove("/securityContext/runAsNonRoot"), add("/containers/0/securityContext/runAsNonRoot", true)]), "restricted", "latest") == set()

	# explicit false anywhere is a violation
	fields(patch([add("/containers/0/securityContext/runAsNonRoot", false)]), "restricted", "latest") == {"spec.containers[0].securityContext.runAsNonRoot"}
	fields(patch([add("/securityContext/runAsNonRoot", false), add("/containers/0/securityContext/runAsNonRoot", true)]), "restricted", "latest") == {"spec.securityContext.runAsNonRoot"}
	fields(patch([add("/securityContext/runAsNonRoot", false)]), "restricted", "latest") == {"spec.securityContext.runAsNonRoot"}

	# null is unset
	rules(patch([add("/containers/0/securityContext/runAsNonRoot", null)]), "restricted", "latest") == set()
	rules(patch([add("/securityContext/runAsNonRoot", null)]), "restricted", "latest") == {"runAsNonRoot"}
}

test_run_as_non_root_relaxed_in_user_namespace_from_v1_35 if {
	spec := object.union(patch([add("/securityContext/runAsNonRoot", false)]), {"hostUsers": false})
	rules(spec, "restricted", "v1.34") == {"runAsNonRoot"}
	rules(spec, "restricted", "v1.35") == set()
}

test_run_as_user if {
	spec := patch([add("/securityContext/runAsUser", 0), add("/containers/0/securityContext/runAsUser", 0)])
	fields(spec, "restricted", "v1.23") == {"spec.securityContext.runAsUser", "spec.containers[0].securityContext.runAsUser"}
	rules(spec, "restricted", "v1.22") == set()
	rules(spec, "baseline", "latest") == set()
	rules(patch([add("/securityContext/runAsUser", 1000)]), "restricted", "latest") == set()

	# from v1.35 a pod in a user namespace may run as uid 0
	userns := object.union(spec, {"hostUsers": false})
	rules(userns, "restricted", "v1.34") == {"runAsUser"}
	rules(userns, "restricted", "v1.35") == set()
}

test_seccomp_restricted if {
	spec := patch([remove("/securityContext/seccompProfile")])
	vs := violations(pod({}, spec), "restricted", "latest")
	count(vs) == 1
	some v in vs
	v.rule == "seccompProfile_restricted"
	v.field == "spec.containers[0].securityContext.seccompProfile.type"
	v.hint == "set spec.securityContext.seccompProfile.type to RuntimeDefault (or Localhost with localhostProfile), or spec.containers[0].securityContext.seccompProfile.type"

	# not checked at restricted before v1.19
	rules(spec, "restricted", "v1.18") == set()
	rules(spec, "restricted", "v1.19") == {"seccompProfile_restricted"}

	# the container may set it instead of the pod
	rules(patch([remove("/securityContext/seccompProfile"), add("/containers/0/securityContext/seccompProfile", {"type": "Localhost", "localhostProfile": "p.json"})]), "restricted", "latest") == set()

	# an invalid pod-level type is reported once, at the pod: fixing it fixes
	# the containers that leave the field unset
	fields(patch([add("/securityContext/seccompProfile", {"type": "Unconfined"})]), "restricted", "latest") == {"spec.securityContext.seccompProfile.type"}
	fields(patch([add("/securityContext/seccompProfile", {"type": "Unconfined"}), add("/containers/0/securityContext/seccompProfile", {"type": "Localhost"})]), "restricted", "latest") == {"spec.securityContext.seccompProfile.type"}
	fields(patch([add("/securityContext/seccompProfile", {}), add("/containers/0/securityContext/seccompProfile", {"type": "unconfined"})]), "restricted", "latest") == {"spec.securityContext.seccompProfile.type", "spec.containers[0].securityContext.seccompProfile.type"}
}

test_windows_pods_exempt_from_v1_25 if {
	spec := {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true}, "containers": [{"name": "app", "image": "x"}]}
	rules(spec, "restricted", "v1.24") == {"allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"}
	rules(spec, "restricted", "v1.25") == set()
	rules(spec, "restricted", "latest") == set()

	# case matters, as in Go
	rules(object.union(spec, {"os": {"name": "Windows"}}), "restricted", "latest") == {"allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"}
}

# ---------------------------------------------------------------------------
# Namespace override
# ---------------------------------------------------------------------------

with_labels(inp, labels) := object.union(inp, {"namespaceLabels": labels})

override_rules(spec, labels, config) := rs if {
	vs := pod_security.violation with input as with_labels(pod({}, spec), labels) with data.microguard.config as config
	rs := {v.rule | some v in vs}
}

bad_spec := {"hostNetwork": true, "containers": [{"name": "app", "image": "x"}]}

test_namespace_labels_ignored_without_override if {
	labels := {"pod-security.kubernetes.io/enforce": "privileged"}
	override_rules(bad_spec, labels, cfg("restricted", "latest")) == {"hostNamespaces", "allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot", "seccompProfile_restricted"}
}

test_namespace_override_level if {
	override_rules(bad_spec, {"pod-security.kubernetes.io/enforce": "privileged"}, cfg_override("restricted", "latest")) == set()
	override_rules(bad_spec, {"pod-security.kubernetes.io/enforce": "baseline"}, cfg_override("restricted", "latest")) == {"hostNamespaces"}
	override_rules(good_spec, {"pod-security.kubernetes.io/enforce": "restricted"}, cfg_override("baseline", "latest")) == set()
	override_rules(bad_spec, {"pod-security.kubernetes.io/enforce": "restricted"}, cfg_override("baseline", "latest")) == {"hostNamespaces", "allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot", "seccompProfile_restricted"}
}

test_namespace_override_version if {
	labels := {"pod-security.kubernetes.io/enforce-version": "v1.7"}
	override_rules(bad_spec, labels, cfg_override("restricted", "latest")) == {"hostNamespaces", "runAsNonRoot"}
	override_rules(bad_spec, {"pod-security.kubernetes.io/enforce-version": "latest"}, cfg_override("restricted", "v1.7")) == {"hostNamespaces", "allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot", "seccompProfile_restricted"}
}

# Invalid labels fail closed, as upstream's PolicyToEvaluate: an invalid
# level means restricted, an invalid version means latest.
test_invalid_namespace_labels_fail_closed if {
	everything := {"hostNamespaces", "allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot", "seccompProfile_restricted"}
	override_rules(bad_spec, {"pod-security.kubernetes.io/enforce": "Privileged"}, cfg_override("baseline", "latest")) == everything
	override_rules(bad_spec, {"pod-security.kubernetes.io/enforce": ""}, cfg_override("baseline", "latest")) == everything
	override_rules(bad_spec, {"pod-security.kubernetes.io/enforce-version": "v1.07"}, cfg_override("restricted", "v1.7")) == everything
	override_rules(bad_spec, {"pod-security.kubernetes.io/enforce-version": "1.7"}, cfg_override("restricted", "v1.7")) == everything
	override_rules(bad_spec, {"pod-security.kubernetes.io/enforce-version": "v1.99999999999999999999"}, cfg_override("restricted", "v1.7")) == everything
}

test_invalid_namespace_labels_are_ignored_without_override if {
	override_rules(bad_spec, {"pod-security.kubernetes.io/enforce": "bogus"}, cfg("baseline", "latest")) == {"hostNamespaces"}
}

# ---------------------------------------------------------------------------
# Field paths of workloads, container kinds, subresources
# ---------------------------------------------------------------------------

test_deployment_template_paths if {
	spec := {
		"initContainers": [good_container("setup"), {"name": "migrate", "image": "x", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["NET_RAW"]}}}],
		"containers": [good_container("app")],
		"volumes": [{"name": "host", "hostPath": {"path": "/"}}],
	}
	vs := pod_security.violation with input as deployment(spec) with data.microguard.config as cfg("restricted", "latest")
	{[v.rule, v.field] | some v in vs} == {
		["capabilities_restricted", "spec.template.spec.initContainers[1].securityContext.capabilities.add[0]"],
		["restrictedVolumes", "spec.template.spec.volumes[0].hostPath"],
		["runAsNonRoot", "spec.template.spec.initContainers[0].securityContext.runAsNonRoot"],
		["runAsNonRoot", "spec.template.spec.initContainers[1].securityContext.runAsNonRoot"],
		["runAsNonRoot", "spec.template.spec.containers[0].securityContext.runAsNonRoot"],
		["seccompProfile_restricted", "spec.template.spec.initContainers[0].securityContext.seccompProfile.type"],
		["seccompProfile_restricted", "spec.template.spec.initContainers[1].securityContext.seccompProfile.type"],
		["seccompProfile_restricted", "spec.template.spec.containers[0].securityContext.seccompProfile.type"],
	}
	some v in vs
	v.field == "spec.template.spec.containers[0].securityContext.runAsNonRoot"
	v.hint == "set spec.template.spec.securityContext.runAsNonRoot to true, or spec.template.spec.containers[0].securityContext.runAsNonRoot"
}

test_cronjob_template_paths if {
	spec := patch([remove("/containers/0/securityContext/allowPrivilegeEscalation")])
	vs := pod_security.violation with input as cronjob(spec) with data.microguard.config as cfg("restricted", "latest")
	{[v.rule, v.field, v.hint] | some v in vs} == {[
		"allowPrivilegeEscalation",
		"spec.jobTemplate.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
		"set spec.jobTemplate.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation to false",
	]}
}

test_template_annotation_paths if {
	inp := object.union(deployment(good_spec), {"pods": [{
		"metadataPath": "spec.template.metadata", "specPath": "spec.template.spec",
		"metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}}, "spec": good_spec,
	}]})
	vs := pod_security.violation with input as inp with data.microguard.config as cfg("baseline", "latest")
	{v.field | some v in vs} == {`spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/app"]`}
}

test_ephemeral_containers_subresource if {
	spec := object.union(good_spec, {"ephemeralContainers": [{"name": "debugger", "image": "busybox", "targetContainerName": "app", "securityContext": {"privileged": true}}]})
	inp := object.union(pod({}, spec), {"subResource": "ephemeralcontainers", "operation": "UPDATE"})
	vs := pod_security.violation with input as inp with data.microguard.config as cfg("restricted", "latest")
	{[v.rule, v.field] | some v in vs} == {
		["privileged", "spec.ephemeralContainers[0].securityContext.privileged"],
		["allowPrivilegeEscalation", "spec.ephemeralContainers[0].securityContext.allowPrivilegeEscalation"],
		["capabilities_restricted", "spec.ephemeralContainers[0].securityContext.capabilities.drop"],
	}
	some v in vs
	v.message == `ephemeral container "debugger" must not set securityContext.privileged=true`
}

test_null_fields_are_unset if {
	spec := {
		"hostNetwork": null, "os": null, "hostUsers": null,
		"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": null, "seLinuxOptions": null, "sysctls": null},
		"containers": [{
			"name": "app", "image": "x", "ports": null, "livenessProbe": null,
			"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": null}, "privileged": null, "procMount": null, "seccompProfile": null, "runAsUser": null},
		}],
		"volumes": [{"name": "tmp", "emptyDir": {}, "hostPath": null}],
	}
	rules(spec, "restricted", "latest") == set()

	# a null security context is an unset one
	rules({"securityContext": null, "containers": [{"name": "app", "image": "x", "securityContext": null}]}, "restricted", "latest") == {"allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot", "seccompProfile_restricted"}
}

# A null item in a container list is a zero-value container in Go: it fails
# the checks of fields left unset, and its messages name it "".
test_null_container_is_a_zero_value_container if {
	spec := {"initContainers": [null], "containers": [{"name": "app", "image": "x", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}}}]}
	vs := violations(pod({}, spec), "restricted", "latest")
	{[v.rule, v.field] | some v in vs} == {
		["allowPrivilegeEscalation", "spec.initContainers[0].securityContext.allowPrivilegeEscalation"],
		["capabilities_restricted", "spec.initContainers[0].securityContext.capabilities.drop"],
		["runAsNonRoot", "spec.initContainers[0].securityContext.runAsNonRoot"],
		["seccompProfile_restricted", "spec.initContainers[0].securityContext.seccompProfile.type"],
	}
	some v in vs
	v.message == `init container "" must set securityContext.allowPrivilegeEscalation=false`
}

test_objects_without_pods_are_not_checked if {
	inp := object.union(pod({}, bad_spec), {"pods": []})
	count(pod_security.violation) == 0 with input as inp with data.microguard.config as cfg("restricted", "latest")
}

# ---------------------------------------------------------------------------
# input.podSecurity: upstream's checks, run in Go ahead of the rules
# ---------------------------------------------------------------------------

privileged_spec := patch([add("/containers/0/securityContext/privileged", true)])

gated(spec, ps) := object.union(pod({}, spec), {"podSecurity": ps})

# Only the failing checks' rules run: a privileged pod whose gate says
# privileged fails gets the rule's own violation.
test_gate_runs_the_failing_checks if {
	vs := violations(gated(privileged_spec, {"level": "restricted", "version": "latest", "failing": {"privileged": {"pod": 0, "reason": "privileged", "detail": "container \"app\""}}}), "restricted", "latest")
	{v.rule | some v in vs} == {"privileged"}
	some v in vs
	v.field == "spec.containers[0].securityContext.privileged"
}

# A check the gate found passing is not evaluated: the same privileged pod
# with an empty failing set has no violation (the gate is trusted).
test_gate_skips_passing_checks if {
	count(violations(gated(privileged_spec, {"level": "restricted", "version": "latest", "failing": {}}), "restricted", "latest")) == 0
}

# The gate's level decides which checks ran: at privileged none fails.
test_gate_at_privileged_runs_nothing if {
	count(violations(gated(privileged_spec, {"level": "privileged", "version": "latest", "failing": {}}), "restricted", "latest")) == 0
}

# A check upstream fails that no rule reports still refuses the pod, with
# upstream's reason and detail, at the pod spec.
test_gate_failure_without_a_rule_violation_refuses if {
	vs := violations(gated(good_spec, {"level": "restricted", "version": "latest", "failing": {"hostPorts": {"pod": 0, "reason": "hostPort", "detail": "container \"app\" uses hostPort 80"}}}), "restricted", "latest")
	count(vs) == 1
	some v in vs
	v.rule == "hostPorts"
	v.field == "spec"
	v.message == "pod fails the restricted Pod Security Standard check hostPorts: hostPort (container \"app\" uses hostPort 80)"
	contains(v.hint, "pod-security-standards")
}


# So does a check this policy has no rules for at all (one a newer upstream
# added).
test_gate_failure_of_an_unknown_check_refuses if {
	vs := violations(gated(good_spec, {"level": "restricted", "version": "latest", "failing": {"futureCheck": {"pod": 0, "reason": "future", "detail": ""}}}), "restricted", "latest")
	count(vs) == 1
	some v in vs
	v.rule == "futureCheck"
	v.field == "spec"
	v.message == "pod fails the restricted Pod Security Standard check futureCheck: future"
}
