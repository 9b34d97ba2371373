# charts/chart.mk - Helm chart, certificates and container image; included by the root
# Makefile (`include charts/chart.mk`), also usable as `make -f charts/chart.mk <target>`.
CHART_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
CHART_ROOT   := $(abspath $(CHART_MK_DIR)/..)
CHART        := $(CHART_ROOT)/charts/pod-security-advisor

GO     ?= go
DOCKER ?= docker
IMAGE  ?= ghcr.io/pod-security-advisor/pod-security-advisor:dev
# A helm binary, if any (the e2e tools put one in e2e/bin): lint-chart also runs it.
HELM   ?= $(firstword $(wildcard $(CHART_ROOT)/e2e/bin/helm) $(shell command -v helm 2>/dev/null))

.PHONY: test-chart lint-chart certs image

## test-chart: helm lint, golden renderings, restricted PSS of the chart's pods, RBAC, webhook, TLS
test-chart:
	cd $(CHART_ROOT)/e2e && $(GO) vet ./chart/... && $(GO) test ./chart/...

## lint-chart: helm lint through Helm's Go package (and `helm lint --strict` when helm is installed)
lint-chart:
	cd $(CHART_ROOT)/e2e && $(GO) test ./chart/ -run '^TestLint' -count=1
	@if [ -n "$(HELM)" ]; then echo "$(HELM) lint --strict $(CHART)"; $(HELM) lint --strict $(CHART); fi

## certs: a local CA and serving certificate in certs/dev for running the webhook out of cluster
certs:
	$(CHART_ROOT)/certs/dev-certs.sh

## image: build the container image (needs a running container engine; not exercised in tests)
image:
	$(DOCKER) build -t $(IMAGE) $(CHART_ROOT)
