# e2e/e2e.mk - end-to-end tooling, included by the root Makefile
# (`include e2e/e2e.mk`); also usable as `make -f e2e/e2e.mk <target>`.
# Paths are relative to this file, so both work from the repository root.
E2E_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

# Binaries are cached outside the repository (see e2e/hack/tools.sh) and
# symlinked into E2E_BIN; the cluster's state lives in E2E_CLUSTER_DIR.
export E2E_BIN ?= $(abspath $(E2E_DIR)/bin)
export E2E_CLUSTER_DIR ?= $(abspath $(E2E_DIR)/.cluster)

.PHONY: e2e-tools cluster-up cluster-down cluster-status e2e cluster-smoke demo-cluster

## e2e-tools: build etcd, kube-apiserver, kube-controller-manager, kubectl, helm, cert-manager, gator (cached)
e2e-tools:
	@$(E2E_DIR)/hack/tools.sh

## cluster-up: start the loopback control plane in the background; prints the kubeconfig path
cluster-up: e2e-tools
	@$(E2E_DIR)/hack/cluster.sh up

## cluster-down: stop the demo's webhook, then the control plane, and delete its state
cluster-down:
	@$(E2E_DIR)/hack/cluster.sh down

cluster-status:
	@$(E2E_DIR)/hack/cluster.sh status && echo "cluster up: $$($(E2E_DIR)/hack/cluster.sh kubeconfig)" || { echo "cluster down"; exit 1; }

## cluster-smoke: check the running cluster does what the e2e suite needs
cluster-smoke:
	@$(E2E_DIR)/hack/smoke.sh

## e2e: build the tools, start a fresh control plane, run the end-to-end suite, stop it
e2e:
	@$(E2E_DIR)/hack/e2e.sh

## demo-cluster: cluster-up, helm install, run the webhook on the host, create three workloads,
## print a summary of what was learned and the commands that show the rest; leaves the cluster
## and the webhook up (make cluster-down stops both)
demo-cluster:
	@$(E2E_DIR)/hack/demo.sh
