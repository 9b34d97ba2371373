// Package chart tests the Helm chart charts/pod-security-advisor without a cluster, through
// Helm's own Go packages: helm lint, golden renderings of a few value sets, the Pod Security
// Standards "restricted" verdict of the chart's own pods (from the API server's evaluator),
// exact least-privilege RBAC, the webhook configuration, the values schema, the serving
// certificate in each TLS mode, and the plain manifests and dev-certificate script in certs/.
//
// Run with `make test-chart`, or `cd e2e && go test ./chart/...`; rewrite the golden files
// with `go test ./chart/ -run TestGolden -update`.
package chart
