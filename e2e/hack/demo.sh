#!/usr/bin/env bash
# The demo: the loopback control plane (cluster.sh up), `helm install` of the chart in url mode
# with cert-manager issuing the serving certificate, the webhook run on this host with the
# token of the chart's ServiceAccount (the cluster has no kubelet, so the demo plays it), three
# realistic workloads, and a summary of what was learned with the commands that show the rest.
# The webhook keeps running: its pid is in the cluster's pids/, so `make cluster-down` stops it.
# The output is short, and plain when it is not a terminal; the details are in logs under the
# cluster's state directory.
#
# Environment (optional): DEMO_PORT (webhook port, default 19443), E2E_BIN, E2E_CLUSTER_DIR and
# the ports of cluster.sh.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$E2E_DIR/.." && pwd)
export E2E_BIN=${E2E_BIN:-$E2E_DIR/bin}
PORT=${DEMO_PORT:-19443}
NS=pod-security-advisor
NAME=pod-security-advisor # release name; contains the chart name, so it is also the fullname
# The binary the README's commands use (make build's), and the name cluster.sh down looks for.
ADVISOR=$ROOT/bin/pod-security-advisor

if [[ -t 1 && -z ${NO_COLOR:-} ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '%s== %s%s\n' "$bold" "$*" "$plain"; }
kubectl() { "$E2E_BIN/kubectl" "$@"; }
# eventually <seconds> <what> <command...>
eventually() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || { echo "timed out waiting for $what" >&2; exit 1; }
		sleep 0.5
	done
}
# A path as it can be pasted: relative to the directory make runs in, when below it.
shown() { if [[ $1 == "$PWD"/* ]]; then echo "${1#"$PWD"/}"; else echo "$1"; fi; }

# The build lines: what is built, not what is cached.
"$E2E_DIR/hack/tools.sh" | { grep -v '^cached ' || true; }
(cd "$ROOT" && go build -o "$ADVISOR" ./cmd/webhook)

t0=$SECONDS
uplog=$(mktemp)
if ! KUBECONFIG=$("$E2E_DIR/hack/cluster.sh" up 2>"$uplog" | tail -n 1) || [[ ! -f $KUBECONFIG ]]; then
	cat "$uplog" >&2
	exit 1
fi
export KUBECONFIG
STATE=$(dirname "$KUBECONFIG")
DEMO=$STATE/demo # inside the cluster's state: `make cluster-down` removes it
mkdir -p "$DEMO/certs"
mv "$uplog" "$DEMO/cluster-up.log"
say "control plane up at $(kubectl config view -o jsonpath='{.clusters[0].cluster.server}') in $((SECONDS - t0))s (logs: $(shown "$STATE/logs"))"

# A webhook left running by an earlier demo on this cluster is replaced by this build.
PIDFILE=$STATE/pids/pod-security-advisor.pid
if [[ -f $PIDFILE ]] && old=$(<"$PIDFILE") && [[ $(tr '\0' '\n' 2>/dev/null <"/proc/$old/cmdline" | head -n1) == "$ADVISOR" ]]; then
	kill -TERM "$old" && while kill -0 "$old" 2>/dev/null; do sleep 0.2; done
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
	echo "port 127.0.0.1:$PORT is in use; set DEMO_PORT" >&2
	exit 1
fi

say "helm install $NAME: the API server sends pods to https://127.0.0.1:$PORT (webhook.url)"
"$E2E_BIN/helm" upgrade --install "$NAME" "$ROOT/charts/pod-security-advisor" -n "$NS" --create-namespace \
	--set replicas=0 \
	--set webhook.url="https://127.0.0.1:$PORT/validate-pods" \
	--set 'certManager.extraIPAddresses={127.0.0.1}' \
	--set learning.flushInterval=2s \
	--set test.enabled=false >"$DEMO/helm.log"
kubectl -n "$NS" wait --for=condition=Ready --timeout=90s "certificate/$NAME-serving-cert" >/dev/null
eventually 60 "cainjector" sh -c "[ -n \"\$('$E2E_BIN/kubectl' get validatingwebhookconfiguration $NAME -o jsonpath='{.webhooks[0].clientConfig.caBundle}')\" ]"
echo "   cert-manager issued the serving certificate; its CA is in the webhook configuration."
echo "   (Its warning events 'secrets \"$NAME-ca\" not found' date from before it issued that CA.)"

# What the kubelet would do: mount the serving Secret, and a ServiceAccount token.
for f in tls.crt tls.key; do
	kubectl -n "$NS" get secret "$NAME-serving-cert" -o jsonpath="{.data.${f/./\\.}}" | base64 -d >"$DEMO/certs/$f"
done
cat >"$DEMO/webhook.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.server}')
    certificate-authority-data: $(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
users:
- name: $NAME
  user: {token: $(kubectl -n "$NS" create token "$NAME" --duration=168h)}
contexts:
- name: e2e
  context: {cluster: e2e, user: $NAME, namespace: $NS}
current-context: e2e
KUBECONFIG

# Its own session, like the control plane's components: it outlives make and its Ctrl-C.
setsid "$ADVISOR" serve --namespace "$NS" --name "$NAME" --policy-configmap "$NAME-policy" \
	--exclude-namespaces "$NS,kube-system" --flush-interval 2s \
	--host 127.0.0.1 --port "$PORT" --cert-dir "$DEMO/certs" \
	--metrics-bind-address 127.0.0.1:0 --health-probe-bind-address "127.0.0.1:$((PORT + 1))" \
	--kubeconfig "$DEMO/webhook.kubeconfig" --zap-devel >"$DEMO/webhook.log" 2>&1 </dev/null &
echo $! >"$PIDFILE"
trap 'status=$?; if ((status)); then echo "webhook log:" >&2; tail -n 30 "$DEMO/webhook.log" >&2; fi' EXIT
eventually 60 "webhook /readyz" curl -sf "http://127.0.0.1:$((PORT + 1))/readyz"
say "webhook running as the chart's ServiceAccount (pid $(<"$PIDFILE"), log: $(shown "$DEMO/webhook.log"))"

say "creating a restricted web Deployment (shop), a node-agent DaemonSet (monitoring), a Job (batch)"
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: storefront, namespace: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: storefront, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: storefront}}
  template:
    metadata: {labels: {app: storefront}}
    spec:
      serviceAccountName: storefront
      securityContext: {runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: registry.example.com/storefront:2.4.1
        ports: [{containerPort: 8080}]
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: node-agent, namespace: monitoring}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-agent, namespace: monitoring}
spec:
  selector: {matchLabels: {app: node-agent}}
  template:
    metadata: {labels: {app: node-agent}}
    spec:
      serviceAccountName: node-agent
      hostPID: true
      containers:
      - name: agent
        image: registry.example.com/node-agent:1.8.2
        securityContext: {readOnlyRootFilesystem: true}
        volumeMounts: [{name: proc, mountPath: /host/proc, readOnly: true}, {name: logs, mountPath: /host/var/log, readOnly: true}]
      volumes:
      - {name: proc, hostPath: {path: /proc}}
      - {name: logs, hostPath: {path: /var/log}}
---
apiVersion: v1
kind: Namespace
metadata: {name: batch}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: migrator, namespace: batch}
---
apiVersion: batch/v1
kind: Job
metadata: {name: db-migrate, namespace: batch}
spec:
  template:
    spec:
      serviceAccountName: migrator
      restartPolicy: Never
      containers:
      - name: migrate
        image: registry.example.com/migrate:3.1
        securityContext: {runAsUser: 0, capabilities: {add: [CHOWN]}}
EOF


policy() { kubectl -n "$NS" get configmap "$NAME-policy" -o jsonpath="{.data.$1}" 2>/dev/null; }
learned() {
	local p
	p=$(policy 'pod-security-standards\.yaml') || return 1
	[[ $p == *"name: batch"* && $p == *"name: monitoring"* && $p == *"name: shop"* ]]
}
eventually 60 "the policy ConfigMap" learned

state="kubectl get configmap -n $NS -l pod-security-advisor.io/state -o json"
say "learned; $state | $(shown "$ADVISOR") summary"
kubectl get configmap -n "$NS" -l pod-security-advisor.io/state -o json | "$ADVISOR" summary

get="kubectl get configmap $NAME-policy -n $NS -o jsonpath="
down="make cluster-down"
[[ $STATE == "$E2E_DIR/.cluster" ]] || down="E2E_CLUSTER_DIR=$STATE $down"
cat <<EOF

The rest, to paste as it is (this kubectl matches the server's version):
  export KUBECONFIG=$KUBECONFIG
  alias kubectl=$E2E_BIN/kubectl
  ${get}'{.data.README}'
  ${get}'{.data.pod-security-standards\.yaml}'
  ${get}'{.data.validating-admission-policy\.yaml}'
  ${get}'{.data.report\.json}'
  $state | $(shown "$ADVISOR") render --format vap --enforce | kubectl apply -f -
The webhook goes on learning new pods. Stop it and the control plane with:
  $down
EOF
