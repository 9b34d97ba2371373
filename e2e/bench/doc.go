// Package bench measures, on the real API server of the loopback control plane, what the
// advisor's output costs the cluster that enforces it. Its tests print figures (lines starting
// with FIGURE) rather than pass or fail on numbers, and are skipped unless their environment
// variable asks for them: a run takes many minutes, so `make e2e` only compiles them and
// `make bench` runs them, each on a fresh control plane so that nothing else is measured.
//
// TestVAPCost binds the ValidatingAdmissionPolicies learned for N namespaces, rendered as
// E2E_VAPCOST_FORMAT says (vap: one policy per namespace, the default; vap-shared: one policy,
// the values on the Namespaces), and reads the API server's resident memory and heap, and the
// latency of server-side dry-run creates of a restricted pod in a bound namespace, against the
// same cluster with nothing bound. Besides the client's p50 and p99 it prints what a shared
// machine disturbs less: the VAP plugin's own time per create (the server's metric), the
// server's CPU per create, and the p50 ratio to creates in an unbound namespace interleaved
// with them. BenchmarkVAPEval evaluates one learned policy in process, no control plane:
//
//	make cluster-up
//	cd e2e && E2E_KUBECONFIG=$PWD/.cluster/admin.kubeconfig E2E_VAPCOST=10,100,1000,5000 \
//		E2E_VAPCOST_FORMAT=vap-shared go test ./bench/ -run TestVAPCost -v -count=1 -timeout 60m
//	cd e2e && go test ./bench/ -run '^$' -bench VAPEval
package bench
