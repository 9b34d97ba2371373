#!/usr/bin/env bash
# Runs a real Kubernetes control plane on loopback for the e2e suite:
# etcd + kube-apiserver + kube-controller-manager + cert-manager (controllers
# and cainjector), all built by e2e/hack/tools.sh. There is no kubelet, so pods
# are admitted and stored but stay Pending - enough for an admission webhook.
#
#   cluster.sh up          start (or report already running); prints the kubeconfig path
#   cluster.sh down        stop everything (make demo's webhook first) and delete the state directory
#   cluster.sh status      exit 0 if all components run and the API server is ready
#   cluster.sh kubeconfig  print the admin kubeconfig path
#
# Environment (all optional):
#   E2E_BIN                binaries (default e2e/bin)
#   E2E_CLUSTER_DIR        state: certs, data, logs, pids (default e2e/.cluster)
#   E2E_ETCD_PORT          etcd client port (23790); E2E_ETCD_PEER_PORT (23800)
#   E2E_APISERVER_PORT     kube-apiserver secure port (16443)
#   E2E_VERIFY_CERT_MANAGER=0  skip issuing a test certificate during "up"
#   E2E_FAKE_NODE=0        do not register the kubelet-less Node "e2e-node"
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${E2E_BIN:-$E2E_DIR/bin}
STATE=${E2E_CLUSTER_DIR:-$E2E_DIR/.cluster}
ETCD_PORT=${E2E_ETCD_PORT:-23790}
ETCD_PEER_PORT=${E2E_ETCD_PEER_PORT:-23800}
APISERVER_PORT=${E2E_APISERVER_PORT:-16443}
KUBECONFIG_PATH=$STATE/admin.kubeconfig
COMPONENTS=(cert-manager kube-controller-manager kube-apiserver etcd)
# Started by others on this cluster (make demo's webhook, pid in pids/<name>.pid): not needed
# for "up", stopped by "down".
GUESTS=(pod-security-advisor)
# "down" stops these tiers in turn, each component's dependencies still up, so every one
# exits cleanly: the webhook (its final save needs the API server), the API server's
# clients, the API server (its shutdown needs etcd), etcd.
SHUTDOWN_TIERS=("${GUESTS[*]}" "cert-manager kube-controller-manager" kube-apiserver etcd)

log() { echo "[cluster] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
kubectl() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

# pid of a running component, only if that pid still runs our binary (a stale
# pid file must never make us signal an unrelated process).
pid_of() {
	local f=$STATE/pids/$1.pid pid
	[[ -f $f ]] || return 1
	pid=$(<"$f")
	local argv0
	argv0=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | head -n1) || return 1
	[[ ${argv0##*/} == "$1" ]] || return 1
	echo "$pid"
}

all_running() {
	local c
	for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null || return 1; done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for <component> <what> <seconds> <command...>: polls the command,
# failing fast with the component's log tail if the component has exited.
wait_for() {
	local comp=$1 what=$2 timeout=$3 start=$SECONDS
	shift 3
	until "$@" >/dev/null 2>&1; do
		if ! pid_of "$comp" >/dev/null; then
			tail -n 20 "$STATE/logs/$comp.log" >&2 || true
			die "$comp exited while waiting for $what (log: $STATE/logs/$comp.log)"
		fi
		((SECONDS - start < timeout)) || die "timed out after ${timeout}s waiting for $what (logs: $STATE/logs)"
		sleep 0.5
	done
	log "$what ready after $((SECONDS - start))s"
}

# start <name> <args...>: runs $BIN/<name> detached (own session, so it
# outlives make and ignores its Ctrl-C) with output in logs/<name>.log.
start() {
	local name=$1
	shift
	setsid "$BIN/$name" "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$STATE/pids/$name.pid"
	log "started $name (pid $!)"
}

gen_certs() {
	local d=$STATE/pki
	mkdir -p "$d"
	(
		cd "$d"
		# One CA signs the serving cert and client certs; the API server trusts
		# it for client auth and kube-controller-manager publishes it as kube-root-ca.crt.
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=psa-e2e-ca" \
			-keyout ca.key -out ca.crt 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key 2>/dev/null |
			openssl x509 -req -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -out apiserver.crt \
				-extfile <(printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1" \
					"extendedKeyUsage=serverAuth") 2>/dev/null
		# system:masters bypasses RBAC: the admin, the controller manager and cert-manager all use it.
		openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=e2e-admin" -keyout admin.key 2>/dev/null |
			openssl x509 -req -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -out admin.crt \
				-extfile <(echo "extendedKeyUsage=clientAuth") 2>/dev/null
		# Service-account token signing key pair.
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
		openssl pkey -in sa.key -pubout -out sa.pub
	)
	local b64="base64 -w0"
	cat >"$KUBECONFIG_PATH" <<-KC
	apiVersion: v1
	kind: Config
	clusters:
	- name: psa-e2e
	  cluster:
	    server: https://127.0.0.1:$APISERVER_PORT
	    certificate-authority-data: $($b64 <"$d/ca.crt")
	users:
	- name: e2e-admin
	  user:
	    client-certificate-data: $($b64 <"$d/admin.crt")
	    client-key-data: $($b64 <"$d/admin.key")
	contexts:
	- name: psa-e2e
	  context: {cluster: psa-e2e, user: e2e-admin}
	current-context: psa-e2e
	KC
	chmod 600 "$KUBECONFIG_PATH"
}

# cert-manager smoke test: a self-signed Issuer and a Certificate must become
# Ready with its Secret, proving the controllers (incl. approval) work.
verify_cert_manager() {
	kubectl apply -f - >/dev/null <<-YAML
	apiVersion: cert-manager.io/v1
	kind: Issuer
	metadata: {name: e2e-smoke, namespace: cert-manager}
	spec: {selfSigned: {}}
	---
	apiVersion: cert-manager.io/v1
	kind: Certificate
	metadata: {name: e2e-smoke, namespace: cert-manager}
	spec:
	  secretName: e2e-smoke-tls
	  dnsNames: [smoke.e2e.local]
	  issuerRef: {name: e2e-smoke, kind: Issuer}
	YAML
	wait_for cert-manager "self-signed Certificate" 120 \
		kubectl -n cert-manager wait --for=condition=Ready certificate/e2e-smoke --timeout=2s
	kubectl -n cert-manager get secret e2e-smoke-tls >/dev/null
	kubectl -n cert-manager delete certificate/e2e-smoke issuer/e2e-smoke secret/e2e-smoke-tls >/dev/null
}

up() {
	local t0=$SECONDS missing=()
	for b in etcd kube-apiserver kube-controller-manager kubectl cert-manager cert-manager-crds; do
		[[ -e $BIN/$b ]] || missing+=("$b")
	done
	((${#missing[@]} == 0)) || die "missing ${missing[*]} in $BIN; run 'make e2e-tools' first"

	if all_running && kubectl get --raw /readyz >/dev/null 2>&1; then
		log "cluster already up"
		echo "$KUBECONFIG_PATH"
		return
	fi
	if [[ -d $STATE ]]; then
		log "removing state of a previous, not fully running cluster"
		down
	fi
	for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT"; do
		! port_busy "$p" || die "port 127.0.0.1:$p is in use (override with E2E_*_PORT)"
	done

	mkdir -p "$STATE"/{logs,pids,etcd}
	gen_certs
	local pki=$STATE/pki

	# fsync off: the data is thrown away, and fsync latency dominates etcd on slow disks.
	start etcd --name e2e --data-dir "$STATE/etcd" --unsafe-no-fsync \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn
	wait_for etcd etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

	# --endpoint-reconciler-type=none: the default reconciler refuses a loopback
	#   advertise address for the kubernetes Service endpoints.
	# --allow-privileged: otherwise privileged pods are rejected before any webhook sees them.
	start kube-apiserver \
		--etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
		--endpoint-reconciler-type none \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--client-ca-file "$pki/ca.crt" \
		--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-cluster-ip-range 10.96.0.0/16 \
		--authorization-mode RBAC \
		--allow-privileged=true \
		--profiling=false
	wait_for kube-apiserver kube-apiserver 120 kubectl get --raw /readyz

	# Node controllers are pointless without nodes; attachdetach needs volume plugins.
	start kube-controller-manager \
		--kubeconfig "$KUBECONFIG_PATH" \
		--controllers '*,-nodeipam,-nodelifecycle,-attachdetach' \
		--service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
		--cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
		--leader-elect=false --secure-port 0 \
		--kube-api-qps 100 --kube-api-burst 200
	wait_for kube-controller-manager "default ServiceAccount" 60 kubectl -n default get serviceaccount default

	# A Node object without a kubelet: DaemonSets then create their pods (which,
	# like all pods here, stay Pending), so DaemonSet admission can be tested too.
	if [[ ${E2E_FAKE_NODE:-1} != 0 ]]; then
		kubectl apply -f - >/dev/null <<-YAML
		apiVersion: v1
		kind: Node
		metadata:
		  name: e2e-node
		  labels: {kubernetes.io/hostname: e2e-node, kubernetes.io/os: linux}
		YAML
		# The TaintNodesByCondition admission plugin taints new nodes not-ready;
		# nothing will ever mark this one Ready (nodelifecycle is off), so untaint it.
		kubectl taint node e2e-node node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
	fi

	kubectl apply --server-side -f "$BIN/cert-manager-crds/" >/dev/null
	kubectl wait --for=condition=Established -f "$BIN/cert-manager-crds/" --timeout=60s >/dev/null
	kubectl create namespace cert-manager --dry-run=client -o yaml | kubectl apply -f - >/dev/null
	start cert-manager --kubeconfig "$KUBECONFIG_PATH" --cluster-resource-namespace cert-manager -v=2
	if [[ ${E2E_VERIFY_CERT_MANAGER:-1} != 0 ]]; then
		verify_cert_manager
	fi

	log "cluster up in $((SECONDS - t0))s; export KUBECONFIG=$KUBECONFIG_PATH"
	echo "$KUBECONFIG_PATH"
}

# stop_tier <name...>: SIGTERM to each running component, then wait up to 15s for all of them.
stop_tier() {
	local name pid pids=() deadline=$((SECONDS + 15))
	for name in "$@"; do
		pid=$(pid_of "$name") || continue
		kill -TERM "$pid" 2>/dev/null || true
		pids+=("$pid:$name")
	done
	local p left
	while :; do
		left=()
		for p in "${pids[@]}"; do kill -0 "${p%%:*}" 2>/dev/null && left+=("$p"); done
		((${#left[@]} > 0 && SECONDS < deadline)) || break
		sleep 0.2
	done
	for p in "${left[@]}"; do
		log "${p#*:} (pid ${p%%:*}) ignored SIGTERM for 15s; killing"
		kill -KILL "${p%%:*}" 2>/dev/null || true
	done
	stopped=$((stopped + ${#pids[@]}))
}

down() {
	local tier stopped=0
	for tier in "${SHUTDOWN_TIERS[@]}"; do
		# shellcheck disable=SC2086 # a tier is a space-separated list of names
		stop_tier $tier
	done
	rm -rf "$STATE"
	log "cluster down (stopped $stopped processes)"
}

case ${1:-} in
up) up ;;
down) down ;;
status) all_running && kubectl get --raw /readyz >/dev/null 2>&1 ;;
kubeconfig) echo "$KUBECONFIG_PATH" ;;
*) echo "usage: $0 up|down|status|kubeconfig" >&2; exit 2 ;;
esac
