// Package bench measures, on the real API server of the loopback control plane, what the
// advisor's output costs the cluster that enforces it. Its tests print figures (lines starting
// with FIGURE) rather than pass or fail on numbers, and are skipped unless their environment
// variable asks for them: a run takes many minutes, so `make e2e` only compiles them and
// `make bench` runs them, each on a fresh control plane so that nothing else is measured.
//
// TestVAPCost binds the ValidatingAdmissionPolicies learned for N namespaces (the
// `--format vap` output) and reads the API server's resident memory and the latency of
// server-side dry-run creates of a restricted pod in a bound namespace, against the same
// cluster with no policy bound:
//
//	make cluster-up
//	cd e2e && E2E_KUBECONFIG=$PWD/.cluster/admin.kubeconfig E2E_VAPCOST=10,100,1000,5000 \
//		go test ./bench/ -run TestVAPCost -v -count=1 -timeout 60m
package bench
