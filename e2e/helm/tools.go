//go:build tools

// Module helm pins the Helm CLI that aksnet's tests render the chart with:
// `go build helm.sh/helm/v4/cmd/helm` in this module builds it from Go modules.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
