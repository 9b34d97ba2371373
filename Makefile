# pod-security-advisor — see README.md.
GO      ?= go
BIN     := bin/pod-security-advisor
# What `pod-security-advisor version` prints.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 30s

.PHONY: build test fuzz bench demo demo-offline clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/webhook

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
# installed with helm, the webhook learning from three workloads, a summary and the commands to paste.
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

# Figures, not pass/fail: the admission handler against a decode-only handler, heap and RSS at
# 100,000 workloads, and the scale runs on the real control plane (RSS idle and peak, backlog
# saved, largest ConfigMap, policy ConfigMaps), what a SIGKILL mid-flush loses at 100,000 stored
# per flush interval, and what the learned VAPs cost the API server
# (memory, pod-create latency) per format, each on a fresh control plane. About an hour.
BENCH_SCALE ?= 100000/5000,50000/10
BENCH_VAPCOST ?= 10,100,1000,5000
BENCH_SIGKILL ?= 100000/2s,100000/10s
bench:
	$(GO) test ./pkg/webhook -run '^$$' -bench 'Handler|IdleConnections' -count 3
	$(GO) test ./pkg/learner -run '^$$' -bench Memory -benchtime 1x
	$(GO) test ./pkg/render -run VAPRuntimeCost -count 1 -v | grep FIGURE
	E2E_SCALE=$(BENCH_SCALE) E2E_TEST_FLAGS='-run ^TestScale$$' $(E2E_DIR)/hack/e2e.sh
	E2E_SIGKILL=$(BENCH_SIGKILL) E2E_TEST_FLAGS='-run ^TestStoreSIGKILLMidFlush$$' $(E2E_DIR)/hack/e2e.sh
	cd $(E2E_DIR) && $(GO) test ./bench -run '^$$' -bench VAPEval -count 3
	for f in vap-shared vap; do \
		E2E_VAPCOST=$(BENCH_VAPCOST) E2E_VAPCOST_FORMAT=$$f E2E_TEST_FLAGS='-run ^TestVAPCost$$' $(E2E_DIR)/hack/e2e.sh || exit 1; \
	done
