// Package scenarios runs the advisor end to end on the loopback control plane (`make e2e`):
// the chart installed with helm, cert-manager issuing the serving certificate and injecting its
// CA, and `pod-security-advisor serve` running as a host process (the test plays the kubelet)
// with a token of the chart's ServiceAccount, so the chart's RBAC is what it runs with.
//
// Every scenario installs its own release into a fresh namespace. The chart's webhook is
// cluster-wide, so each release only selects namespaces labelled
// e2e.pod-security-advisor.io/release=<release>, and backfill (which lists every pod of the
// cluster) is off unless a scenario tests it: scenarios never learn each other's pods.
//
// Run: make cluster-up, then
//
//	cd e2e && E2E_KUBECONFIG=$PWD/.cluster/admin.kubeconfig go test ./scenarios/ -v -count=1
package scenarios
