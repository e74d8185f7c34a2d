{{/* Names, labels and the values every template derives. */}}

{{- define "microguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: also the name of both webhook configurations, which
microguard's messages refer to. The release name alone when it contains the
chart name (helm install microguard … gives "microguard").
*/}}
{{- define "microguard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "microguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "microguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "microguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "microguard.labels" -}}
helm.sh/chart: {{ include "microguard.chart" . }}
{{ include "microguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: microguard
{{- end }}

{{- define "microguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "microguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the serving certificate (cert-manager's or microguard's own). */}}
{{- define "microguard.tlsSecretName" -}}
{{- printf "%s-tls" (include "microguard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "microguard.headlessServiceName" -}}
{{- printf "%s-headless" (include "microguard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The DNS names the API server calls the webhook Service by. */}}
{{- define "microguard.dnsNames" -}}
{{- $svc := include "microguard.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{- define "microguard.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end -}}
{{- end }}

{{/* StatefulSet when each replica keeps its own SQLite log, else Deployment. */}}
{{- define "microguard.workloadKind" -}}
{{- if eq .Values.decisionLog.store "sqlite" }}StatefulSet{{ else }}Deployment{{ end }}
{{- end }}

{{- define "microguard.decisionLogVolume" -}}
decision-log
{{- end }}

{{/* Where the signing key Secret is mounted. */}}
{{- define "microguard.signingKeyDir" -}}
/etc/microguard/decision-log-key
{{- end }}

{{/*
The microguard config file: values.config, plus the path of the mounted
checkpoint signing key when decisionLog.signingKeySecret is set.
*/}}
{{- define "microguard.config" -}}
{{- $config := deepCopy (default dict .Values.config) -}}
{{- if .Values.decisionLog.signingKeySecret.name -}}
{{- $dl := deepCopy (default dict $config.decisionLog) -}}
{{- $_ := set $dl "signingKey" (printf "%s/%s" (include "microguard.signingKeyDir" .) .Values.decisionLog.signingKeySecret.key) -}}
{{- $_ := set $config "decisionLog" $dl -}}
{{- end -}}
{{- toYaml $config }}
{{- end }}

{{/*
The namespaces neither webhook is called for: values.webhooks.excludedNamespaces
and the release namespace, in that order, without duplicates.
*/}}
{{- define "microguard.excludedNamespaces" -}}
{{- $out := list -}}
{{- range .Values.webhooks.excludedNamespaces -}}
{{- if not (has . $out) }}{{ $out = append $out . }}{{ end -}}
{{- end -}}
{{- if not (has .Release.Namespace $out) }}{{ $out = append $out .Release.Namespace }}{{ end -}}
{{- toJson $out }}
{{- end }}

{{/* The image-signature rules' keyRef Secrets, as a list of {namespace, name}. */}}
{{- define "microguard.keyRefSecrets" -}}
{{- $out := list -}}
{{- $policies := default dict .Values.config.policies -}}
{{- $sig := default dict (get $policies "image-signature") -}}
{{- range $rule := default list $sig.rules -}}
{{- if and (kindIs "map" $rule) $rule.keyRef -}}
{{- $ref := dict "namespace" $rule.keyRef.namespace "name" $rule.keyRef.name -}}
{{- if not (has $ref $out) }}{{ $out = append $out $ref }}{{ end -}}
{{- end -}}
{{- end -}}
{{- toJson $out }}
{{- end }}
