package admission

// The usual keys and strings of Kubernetes objects, which decodeJSON takes
// from this table rather than allocate them (and, for strings, box them in
// an interface) again for every object. They are immutable, shared with no
// harm, and keep no part of a request alive.

type internEntry struct {
	s string
	v any // s, boxed once
}

// internTable is an open-addressing hash table of the strings, about a
// third full so that a miss ends at an empty slot after a probe or two.
var internTable = func() *[1 << 11]internEntry {
	t := new([1 << 11]internEntry)
	add := func(s string) {
		for h := internHash([]byte(s)); ; h++ {
			e := &t[h%uint(len(t))]
			if e.s == s {
				return
			}
			if e.s == "" {
				*e = internEntry{s, s}
				return
			}
		}
	}
	for _, k := range commonKeys {
		add(k)
		add("f:" + k) // managedFields
	}
	for _, s := range commonStrings {
		add(s)
	}
	return t
}()

// internHash hashes the length and three bytes of a non-empty b.
func internHash(b []byte) uint {
	n := uint(len(b))
	h := n*0x9E3779B1 ^ uint(b[0])*0x85EBCA77 ^ uint(b[n/2])*0xC2B2AE3D ^ uint(b[n-1])*0x27D4EB2F
	return h ^ h>>15
}

// interned is the entry for b, or nil.
func interned(b []byte) *internEntry {
	if len(b) == 0 {
		return nil
	}
	for h := internHash(b); ; h++ {
		e := &internTable[h%uint(len(internTable))]
		if e.s == string(b) {
			return e
		}
		if e.s == "" {
			return nil
		}
	}
}

// commonKeys are the usual keys of Kubernetes objects and pod specs.
var commonKeys = []string{
	// Objects and their metadata.
	"apiVersion", "kind", "metadata", "spec", "status", "name", "namespace",
	"generateName", "uid", "resourceVersion", "generation", "creationTimestamp",
	"deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
	"ownerReferences", "controller", "blockOwnerDeletion", "finalizers",
	"managedFields", "manager", "operation", "time", "fieldsType", "fieldsV1",
	"subresource", ".",
	// Usual labels and annotations.
	"app", "version", "component", "tier", "release", "app.kubernetes.io/name",
	"app.kubernetes.io/instance", "app.kubernetes.io/version",
	"app.kubernetes.io/component", "app.kubernetes.io/part-of",
	"app.kubernetes.io/managed-by", "helm.sh/chart", "pod-template-hash",
	"controller-revision-hash", "pod-template-generation",
	"statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index",
	"batch.kubernetes.io/job-name", "batch.kubernetes.io/controller-uid",
	"job-name", "controller-uid", "kubectl.kubernetes.io/last-applied-configuration",
	"kubectl.kubernetes.io/restartedAt", "kubectl.kubernetes.io/default-container",
	"deployment.kubernetes.io/revision", "kubernetes.io/hostname",
	"kubernetes.io/os", "kubernetes.io/arch", "topology.kubernetes.io/zone",
	"topology.kubernetes.io/region",
	// Workloads.
	"replicas", "selector", "matchLabels", "matchExpressions", "key", "operator",
	"values", "template", "strategy", "type", "rollingUpdate", "maxSurge",
	"maxUnavailable", "revisionHistoryLimit", "progressDeadlineSeconds",
	"minReadySeconds", "paused", "serviceName", "podManagementPolicy",
	"updateStrategy", "partition", "volumeClaimTemplates", "jobTemplate",
	"schedule", "timeZone", "concurrencyPolicy", "successfulJobsHistoryLimit",
	"failedJobsHistoryLimit", "startingDeadlineSeconds", "backoffLimit",
	"completions", "completionMode", "parallelism", "activeDeadlineSeconds",
	"ttlSecondsAfterFinished", "suspend", "podReplacementPolicy",
	// Pod specs.
	"containers", "initContainers", "ephemeralContainers", "image",
	"imagePullPolicy", "command", "args", "workingDir", "env", "envFrom",
	"value", "valueFrom", "fieldRef", "fieldPath", "resourceFieldRef",
	"configMapKeyRef", "secretKeyRef", "configMapRef", "secretRef", "optional",
	"prefix", "ports", "containerPort", "hostPort", "hostIP", "protocol",
	"resources", "limits", "requests", "claims", "cpu", "memory",
	"ephemeral-storage", "nvidia.com/gpu", "volumeMounts", "mountPath",
	"subPath", "subPathExpr", "readOnly", "recursiveReadOnly",
	"mountPropagation", "volumeDevices", "devicePath", "livenessProbe",
	"readinessProbe", "startupProbe", "httpGet", "tcpSocket", "exec", "grpc",
	"service", "path", "port", "scheme", "host", "httpHeaders",
	"initialDelaySeconds", "timeoutSeconds", "periodSeconds",
	"successThreshold", "failureThreshold", "terminationGracePeriodSeconds",
	"lifecycle", "preStop", "postStart", "sleep", "seconds",
	"terminationMessagePath", "terminationMessagePolicy", "stdin", "stdinOnce",
	"tty", "restartPolicy", "resizePolicy", "resourceName", "securityContext",
	"privileged", "capabilities", "add", "drop", "runAsUser", "runAsGroup",
	"runAsNonRoot", "readOnlyRootFilesystem", "allowPrivilegeEscalation",
	"procMount", "seccompProfile", "localhostProfile", "appArmorProfile",
	"seLinuxOptions", "user", "role", "level", "fsGroup", "fsGroupChangePolicy",
	"supplementalGroups", "supplementalGroupsPolicy", "sysctls",
	"windowsOptions", "volumes", "emptyDir", "medium", "sizeLimit", "hostPath",
	"configMap", "secret", "secretName", "items", "defaultMode", "mode",
	"persistentVolumeClaim", "claimName", "projected", "sources",
	"serviceAccountToken", "expirationSeconds", "audience", "downwardAPI",
	"csi", "driver", "volumeAttributes", "nfs", "server", "ephemeral",
	"volumeClaimTemplate", "accessModes", "storageClassName", "volumeMode",
	"storage", "dnsPolicy", "dnsConfig", "nameservers", "searches", "options",
	"nodeName", "nodeSelector", "affinity", "nodeAffinity", "podAffinity",
	"podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
	"preferredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms",
	"matchFields", "preference", "labelSelector", "namespaceSelector",
	"namespaces", "topologyKey", "weight", "podAffinityTerm", "tolerations",
	"effect", "tolerationSeconds", "topologySpreadConstraints", "maxSkew",
	"whenUnsatisfiable", "minDomains", "matchLabelKeys",
	"serviceAccountName", "serviceAccount", "automountServiceAccountToken",
	"imagePullSecrets", "hostNetwork", "hostPID", "hostIPC", "hostUsers",
	"shareProcessNamespace", "hostname", "subdomain", "setHostnameAsFQDN",
	"schedulerName", "priority", "priorityClassName", "preemptionPolicy",
	"runtimeClassName", "enableServiceLinks", "overhead", "os",
	"readinessGates", "conditionType", "schedulingGates", "resourceClaims",
	"hostAliases", "ip", "hostnames",
	// Status.
	"phase", "conditions", "lastProbeTime", "lastTransitionTime", "reason",
	"message", "hostIP", "podIP", "podIPs", "startTime", "qosClass",
	"containerStatuses", "ready", "restartCount", "started", "state",
	"running", "startedAt", "imageID", "containerID",
}

// commonStrings are the usual strings of Kubernetes objects.
var commonStrings = []string{
	"v1", "apps/v1", "batch/v1", "Pod", "Deployment", "ReplicaSet",
	"StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController",
	"Update", "Apply", "FieldsV1", "kube-controller-manager",
	"kubectl-client-side-apply", "kubectl-create", "kubectl", "helm",
	"status", "true", "false",
	"TCP", "UDP", "SCTP", "HTTP", "HTTPS", "IfNotPresent", "Always", "Never",
	"OnFailure", "File", "FallbackToLogsOnError", "/dev/termination-log",
	"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None",
	"default-scheduler", "default", "RuntimeDefault", "Localhost",
	"Unconfined", "ALL", "NET_BIND_SERVICE", "NET_ADMIN", "SYS_ADMIN",
	"Exists", "Equal", "In", "NotIn", "DoesNotExist", "NoExecute",
	"NoSchedule", "PreferNoSchedule", "DoNotSchedule", "ScheduleAnyway",
	"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable",
	"PreemptLowerPriority", "Never", "RollingUpdate", "Recreate", "OnDelete",
	"OrderedReady", "Parallel", "Allow", "Forbid", "Replace", "NonIndexed",
	"Indexed", "TerminatingOrFailed", "25%", "Memory", "kube-root-ca.crt",
	"ca.crt", "token", "namespace", "metadata.name", "metadata.namespace",
	"metadata.uid", "metadata.labels", "metadata.annotations",
	"spec.nodeName", "spec.serviceAccountName", "status.podIP",
	"status.hostIP", "/var/run/secrets/kubernetes.io/serviceaccount",
	"NotRequired", "RestartContainer", "cpu", "memory", "ReadWriteOnce",
	"ReadOnlyMany", "ReadWriteMany", "Filesystem", "Block",
	"kubernetes.io/hostname", "topology.kubernetes.io/zone", "linux",
	"amd64", "arm64", "Pending", "Running", "Succeeded", "Failed", "Unknown",
	"BestEffort", "Burstable", "Guaranteed", "True", "False", "Ready",
	"Initialized", "ContainersReady", "PodScheduled",
}
