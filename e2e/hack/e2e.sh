#!/usr/bin/env bash
# The end-to-end suite: the store's integration test against a real kube-apiserver (envtest),
# then the Go tests of the e2e module against the loopback control plane, which this script
# starts and always stops.
set -euo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$E2E_DIR/.." && pwd)
export E2E_BIN=${E2E_BIN:-$E2E_DIR/bin}

"$E2E_DIR/hack/tools.sh"

echo "[e2e] store integration test (envtest: etcd + kube-apiserver from $E2E_BIN)"
(cd "$ROOT" && KUBEBUILDER_ASSETS=$E2E_BIN go test -tags integration -count=1 ./pkg/store/)

trap '"$E2E_DIR/hack/cluster.sh" down >/dev/null 2>&1 || true' EXIT
"$E2E_DIR/hack/cluster.sh" down >/dev/null 2>&1 || true
export E2E_KUBECONFIG=$("$E2E_DIR/hack/cluster.sh" up | tail -n 1)
echo "[e2e] control plane up: $E2E_KUBECONFIG"
# -p 1: the packages share one control plane and its cluster-wide webhook configurations.
# -v so the figures tests print (lines starting with FIGURE or PRECISION) reach this output;
# the full log is kept, and shown when something fails.
log=$(mktemp -t psa-e2e.XXXXXX.log)
rc=0
(cd "$E2E_DIR" && go test -p 1 -count=1 -timeout 50m -v ${E2E_TEST_FLAGS:-} ./...) >"$log" 2>&1 || rc=$?
grep -E '^(ok |FAIL|--- FAIL|PRECISION|FIGURE)' "$log" || true
if [ "$rc" -ne 0 ]; then
	echo "[e2e] FAILED; the last 400 lines of $log:"
	tail -n 400 "$log"
fi
exit "$rc"
