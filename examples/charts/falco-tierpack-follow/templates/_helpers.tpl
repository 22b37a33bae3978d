{{- define "ftf.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ftf.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ftf.labels" -}}
{{ include "ftf.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}

{{/* The ConfigMap holding policy.yaml and the keys it names. */}}
{{- define "ftf.trustConfigMap" -}}
{{- .Values.trust.existingConfigMap | default (printf "%s-trust" (include "ftf.fullname" .) | trunc 63 | trimSuffix "-") -}}
{{- end -}}

{{/* The folder tierpack installs the rules into and Falco reads them from. */}}
{{- define "ftf.rulesDir" -}}
{{- if or (not .Values.rules.name) (contains "/" .Values.rules.name) -}}
{{- fail "rules.name must be a folder name, without /" -}}
{{- end -}}
/etc/falco/tierpack/{{ .Values.rules.name }}
{{- end -}}

{{- define "ftf.signal" -}}
{{- if eq .Values.reload.mode "signal" -}}
true
{{- else if ne .Values.reload.mode "watch" -}}
{{- fail (printf "reload.mode must be signal or watch, not %q" .Values.reload.mode) -}}
{{- end -}}
{{- end -}}

{{/*
tierpack's containers, the init install and the follow sidecar:
(dict "ctx" . "follow" true) for the sidecar.
*/}}
{{- define "ftf.tierpackContainer" -}}
{{- $follow := .follow -}}
{{- with .ctx -}}
image: "{{ .Values.tierpack.image.repository }}:{{ .Values.tierpack.image.tag }}"
imagePullPolicy: {{ .Values.tierpack.image.pullPolicy }}
command: [tierpack]
env:
  - name: TIERPACK_HOME
    value: /var/lib/tierpack
  - name: TIERPACK_POLICY
    value: /etc/tierpack/policy.yaml
  {{- if .Values.tierpack.registryCredentialsSecret }}
  - name: DOCKER_CONFIG
    value: /etc/tierpack-registry
  {{- end }}
securityContext:
  {{- if include "ftf.signal" . }}
  # UID 0, Falco's user, so that follow may send Falco SIGHUP (install runs as
  # the same user, so that follow can replace what it wrote); nothing more: no
  # capability, no privilege escalation, a read-only root.
  runAsUser: 0
  runAsNonRoot: false
  {{- if $follow }}
  # The runtime's default AppArmor profile lets a container signal only
  # containers under that same profile, and privileged Falco runs unconfined.
  appArmorProfile:
    type: Unconfined
  {{- end }}
  {{- else }}
  runAsUser: 65532
  runAsGroup: 65532
  runAsNonRoot: true
  {{- end }}
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
  seccompProfile:
    type: RuntimeDefault
resources:
  {{- toYaml .Values.tierpack.resources | nindent 2 }}
volumeMounts:
  - name: rules
    mountPath: /etc/falco/tierpack
  - name: tierpack-home
    mountPath: /var/lib/tierpack
  - name: tmp
    mountPath: /tmp
  - name: trust
    mountPath: /etc/tierpack
    readOnly: true
  {{- if .Values.tierpack.registryCredentialsSecret }}
  - name: registry-credentials
    mountPath: /etc/tierpack-registry
    readOnly: true
  {{- end }}
{{- end }}
{{- end -}}
