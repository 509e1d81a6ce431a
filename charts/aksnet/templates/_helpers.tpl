{{/* The labels every object carries (the same as config/). */}}
{{- define "aksnet.labels" -}}
app.kubernetes.io/name: aksnet-operator
{{- end }}

{{/* The image reference: repository and tag (appVersion unless set). */}}
{{- define "aksnet.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
