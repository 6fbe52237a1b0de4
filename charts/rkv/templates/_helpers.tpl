{{/* Chart name, at most 63 characters. */}}
{{- define "rkv.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object name prefix: the release name, with the chart name unless the release name already contains it. */}}
{{- define "rkv.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of the operator's Deployment, Service, PDB and RBAC objects. */}}
{{- define "rkv.operator.fullname" -}}
{{- printf "%s-operator" (include "rkv.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{- define "rkv.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rkv.operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Labels of every object. The operator's pods are "rkv-operator", never "rkv":
the storage pods of an RkvCluster are selected by app.kubernetes.io/name=rkv
and app.kubernetes.io/instance=<cluster>, which must not match the operator
even when the release and the cluster share a name.
*/}}
{{- define "rkv.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/part-of: rkv
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "rkv.operator.selectorLabels" -}}
app.kubernetes.io/name: rkv-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rkv.operator.labels" -}}
{{ include "rkv.labels" . }}
{{ include "rkv.operator.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* Labels of chart-level objects that belong to no single component (dashboards, rules). */}}
{{- define "rkv.monitoring.labels" -}}
{{ include "rkv.labels" . }}
app.kubernetes.io/name: rkv
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: monitoring
{{- end -}}

{{- define "rkv.operator.image" -}}
{{- $i := .Values.operator.image -}}
{{- if $i.reference -}}
{{- $i.reference -}}
{{- else -}}
{{- printf "%s:%s" $i.repository (default .Chart.AppVersion $i.tag) -}}
{{- if $i.digest -}}@{{ $i.digest }}{{- end -}}
{{- end -}}
{{- end -}}

{{/* True ("true") when the Prometheus Operator's API is served. */}}
{{- define "rkv.monitoringApi" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" -}}true{{- end -}}
{{- end -}}
