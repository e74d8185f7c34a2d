{{/*
Guards against contradictory values. values.schema.json checks each value on
its own; these check values against each other (and hold when the schema is
skipped with --skip-schema-validation). Each message says what to change.
*/}}
{{- define "microguard.validate" -}}
{{- $v := .Values -}}

{{- if lt (int $v.replicaCount) 1 -}}
{{- fail (printf "replicaCount is %v: microguard needs at least 1 replica (2 or more in production), or nothing it validates can be created" $v.replicaCount) -}}
{{- end -}}

{{- $timeout := int $v.webhooks.timeoutSeconds -}}
{{- if or (lt $timeout 1) (gt $timeout 10) -}}
{{- fail (printf "webhooks.timeoutSeconds is %v: it must be between 1 and 10 (the API server's own limit is 30, but a slow webhook stalls every pod creation; 5 is the default)" $v.webhooks.timeoutSeconds) -}}
{{- end -}}

{{- if and $v.certManager.enabled $v.selfManagedCerts.enabled -}}
{{- fail "certManager.enabled and selfManagedCerts.enabled are both true: choose one source of the serving certificate (set selfManagedCerts.enabled=false to use cert-manager)" -}}
{{- end -}}
{{- if not (or $v.certManager.enabled $v.selfManagedCerts.enabled) -}}
{{- fail "neither certManager.enabled nor selfManagedCerts.enabled is true: the API server needs a certificate to call microguard; enable one of them" -}}
{{- end -}}
{{- if and $v.certManager.enabled $v.certManager.issuerRef (not $v.certManager.issuerRef.name) -}}
{{- fail "certManager.issuerRef is set without a name: give the name (and kind) of an existing Issuer or ClusterIssuer, or leave issuerRef empty for a self-signed Issuer" -}}
{{- end -}}

{{- $store := $v.decisionLog.store -}}
{{- if not (has $store (list "sqlite" "postgres" "none")) -}}
{{- fail (printf "decisionLog.store is %q: it must be sqlite, postgres or none" $store) -}}
{{- end -}}
{{- if and (eq $store "postgres") (not $v.decisionLog.postgres.dsnSecret.name) -}}
{{- fail "decisionLog.store is postgres but decisionLog.postgres.dsnSecret.name is empty: name the Secret (in the release namespace) whose key holds the postgres:// DSN" -}}
{{- end -}}
{{- if and (eq $store "postgres") (not $v.decisionLog.postgres.dsnSecret.key) -}}
{{- fail "decisionLog.postgres.dsnSecret.key is empty: name the key of the Secret that holds the DSN" -}}
{{- end -}}
{{- if and (ne $store "postgres") $v.decisionLog.postgres.dsnSecret.name -}}
{{- fail (printf "decisionLog.postgres.dsnSecret.name is set but decisionLog.store is %q: set decisionLog.store=postgres to use the database, or remove the DSN secret" $store) -}}
{{- end -}}
{{- if and (eq $store "none") $v.decisionLog.signingKeySecret.name -}}
{{- fail "decisionLog.signingKeySecret.name is set but decisionLog.store is none: there is no log to sign" -}}
{{- end -}}
{{- if and $v.decisionLog.signingKeySecret.name (not $v.decisionLog.signingKeySecret.key) -}}
{{- fail "decisionLog.signingKeySecret.key is empty: name the key of the Secret that holds the PEM signing key" -}}
{{- end -}}
{{- $cfgLog := default dict (get (default dict $v.config) "decisionLog") -}}
{{- if and $v.decisionLog.signingKeySecret.name (hasKey $cfgLog "signingKey") -}}
{{- fail "both decisionLog.signingKeySecret and config.decisionLog.signingKey are set: with signingKeySecret the chart mounts the key and sets config.decisionLog.signingKey itself; remove one" -}}
{{- end -}}

{{- $pdb := $v.podDisruptionBudget -}}
{{- if $pdb.enabled -}}
{{- $hasMax := not (kindIs "invalid" $pdb.maxUnavailable) -}}
{{- $hasMin := not (kindIs "invalid" $pdb.minAvailable) -}}
{{- if and $hasMax $hasMin -}}
{{- fail "podDisruptionBudget: set maxUnavailable or minAvailable, not both (set the other to null)" -}}
{{- end -}}
{{- if not (or $hasMax $hasMin) -}}
{{- fail "podDisruptionBudget.enabled is true but neither maxUnavailable nor minAvailable is set" -}}
{{- end -}}
{{- if and $hasMin (not (kindIs "string" $pdb.minAvailable)) (ge (int $pdb.minAvailable) (int $v.replicaCount)) -}}
{{- fail (printf "podDisruptionBudget.minAvailable (%v) is not below replicaCount (%v): no microguard pod could ever be evicted, so node drains would hang; lower minAvailable or raise replicaCount" $pdb.minAvailable $v.replicaCount) -}}
{{- end -}}
{{- if and $hasMax (not (kindIs "string" $pdb.maxUnavailable)) (lt (int $pdb.maxUnavailable) 1) -}}
{{- fail "podDisruptionBudget.maxUnavailable is 0: no microguard pod could ever be evicted, so node drains would hang; use 1" -}}
{{- end -}}
{{- end -}}

{{- if and $v.optOut.validating (not $v.optOut.label) -}}
{{- fail "optOut.validating is true but optOut.label is empty" -}}
{{- end -}}
{{- if and $v.optOut.mutating (not $v.optOut.label) -}}
{{- fail "optOut.mutating is true but optOut.label is empty: name the label, or set optOut.mutating=false" -}}
{{- end -}}

{{- $grace := int $v.terminationGracePeriodSeconds -}}
{{- if le $grace (int $v.preStopSleepSeconds) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds (%v), or pods are killed before in-flight reviews finish" $v.terminationGracePeriodSeconds $v.preStopSleepSeconds) -}}
{{- end -}}

{{- if and (eq (int $v.replicaCount) 1) $v.podDisruptionBudget.enabled (not (kindIs "invalid" $v.podDisruptionBudget.minAvailable)) -}}
{{- fail "replicaCount is 1 with podDisruptionBudget.minAvailable set: the only pod could never be evicted; use maxUnavailable: 1" -}}
{{- end -}}

{{- $sig := default dict (get (default dict (get (default dict $v.config) "policies")) "image-signature") -}}
{{- if and $sig.action (ne (toString $sig.action) "off") (ne (toString $sig.action) "false") -}}
{{- $t := toString (default "3s" $sig.timeout) -}}
{{- $ms := 0 -}}
{{- if regexMatch "^[0-9]+ms$" $t }}{{ $ms = trimSuffix "ms" $t | int }}
{{- else if regexMatch "^[0-9]+s$" $t }}{{ $ms = mul (trimSuffix "s" $t | int) 1000 }}
{{- else if regexMatch "^[0-9]+m$" $t }}{{ $ms = mul (trimSuffix "m" $t | int) 60000 }}
{{- end -}}
{{- if ge (int $ms) (mul $timeout 1000) -}}
{{- fail (printf "config.policies.image-signature.timeout (%s) is not below webhooks.timeoutSeconds (%ds): the API server would give up first and refuse the request without microguard's message; lower the timeout or raise timeoutSeconds (at most 10)" $t $timeout) -}}
{{- end -}}
{{- end -}}

{{- range $v.webhooks.excludedNamespaces -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" .) -}}
{{- fail (printf "webhooks.excludedNamespaces: %q is not a namespace name" .) -}}
{{- end -}}
{{- end -}}
{{- end }}
