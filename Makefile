# pod-security-advisor — see README.md.
GO      ?= go
BIN     := bin/pod-security-advisor
FUZZTIME ?= 30s

.PHONY: build test fuzz demo demo-offline clean

build:
	$(GO) build -o $(BIN) ./cmd/webhook

# Unit tests, vet included (the offline PSA fixture tests read the module cache), and the chart
# tests: helm lint, golden renderings, restricted PSS of the chart's own pods.
test:
	$(GO) vet ./...
	$(GO) test ./...
	$(MAKE) test-chart

# Longer fuzzing of pod observation: make fuzz FUZZTIME=10m
fuzz:
	$(GO) test ./pkg/attributes -run '^$$' -fuzz FuzzObserve -fuzztime $(FUZZTIME)

# The demo: a real control plane on 127.0.0.1 (built from Go modules on first use), the chart
# installed with helm, the webhook learning from three workloads, the policy fetched with kubectl.
demo: demo-cluster

# Offline demo: learn from the example manifests and print each policy format.
demo-offline: build
	@for f in pss vap psp report; do \
		echo "### $(BIN) convert -f examples/ --format $$f"; \
		$(BIN) convert -f examples/ --format $$f || exit 1; \
	done

clean:
	rm -rf bin

include e2e/e2e.mk
include charts/chart.mk
