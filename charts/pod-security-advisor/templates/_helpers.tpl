{{/* Name of the chart, or nameOverride. */}}
{{- define "psa.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name. Kept to 40 characters so that derived names such as
<fullname>-webhook (a Service: at most 63 characters) and <fullname>-serving-cert stay valid.
*/}}
{{- define "psa.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "psa.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "psa.selectorLabels" -}}
app.kubernetes.io/name: {{ include "psa.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "psa.labels" -}}
helm.sh/chart: {{ include "psa.chart" . }}
{{ include "psa.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "psa.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "psa.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: the existing ServiceAccount to run as (serviceAccount.create=false)" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The webhook Service, and the names it answers to inside the cluster. */}}
{{- define "psa.webhookService" -}}
{{- include "psa.fullname" . }}-webhook
{{- end }}

{{- define "psa.serviceDNSNames" -}}
{{- $svc := include "psa.webhookService" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{- define "psa.policyConfigMap" -}}
{{- include "psa.fullname" . }}-policy
{{- end }}

{{/* Secret holding the serving certificate (tls.crt, tls.key). */}}
{{- define "psa.servingSecret" -}}
{{- if and (not .Values.certManager.enabled) .Values.tls.existingSecret }}
{{- .Values.tls.existingSecret }}
{{- else }}
{{- include "psa.fullname" . }}-serving-cert
{{- end }}
{{- end }}

{{/* Namespaces never sent to the webhook nor backfilled: the release namespace and the list. */}}
{{- define "psa.excludedNamespaces" -}}
{{- prepend .Values.learning.excludedNamespaces .Release.Namespace | uniq | toJson }}
{{- end }}

{{- define "psa.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Security contexts (values; the defaults pass Pod Security Standards restricted). */}}
{{- define "psa.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}

{{- define "psa.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{/* Fail early on value combinations the schema cannot express. */}}
{{- define "psa.validate" -}}
{{- if and (not .Values.certManager.enabled) (or .Values.tls.existingSecret .Values.tls.caBundle) (not (and .Values.tls.existingSecret .Values.tls.caBundle)) }}
{{- fail "tls.existingSecret and tls.caBundle must be set together (certManager.enabled=false)" }}
{{- end }}
{{- if and .Values.webhook.url (not (hasPrefix "https://" .Values.webhook.url)) }}
{{- fail "webhook.url must start with https://" }}
{{- end }}
{{- end }}
