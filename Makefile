# aksnet: build, test and run everything from a fresh clone.
#   make run    a local test cluster (real kube-apiserver) with the CRDs and samples applied
#   make test   unit, property and end-to-end tests
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

K8S_VERSION := v1.37.2
K8S_MINOR := $(word 2,$(subst ., ,$(K8S_VERSION)))
BIN := $(CURDIR)/.bin
TESTENV := $(BIN)/testenv
TESTENV_SRC := $(wildcard e2e/testenv/*.go) e2e/testenv/go.mod e2e/testenv/go.sum
GO_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(K8S_MINOR)

# The newest kubectl on the machine: some images ship versioned kubectl.1.N binaries beside it.
KUBECTL ?= $(shell d=$$(dirname "$$(readlink -f "$$(command -v kubectl)")" 2>/dev/null); \
	ls "$$d"/kubectl.1.* 2>/dev/null | sort -V | tail -n 1 | grep . || echo kubectl)
export KUBECTL
export AKSNET_TESTENV_BIN := $(TESTENV)
CARGO ?= cargo

.PHONY: build test test-python unit run bench testenv fmt lint crds crds-check clean
VENV := $(CURDIR)/.venv
PY_REQUIREMENTS := e2e/azure-mock/tests/python/requirements.txt

build: testenv ## Build the workspace and the test API server
	$(CARGO) build --workspace --all-targets

testenv: $(TESTENV) ## Build the real kube-apiserver + embedded etcd used by tests

$(TESTENV): $(TESTENV_SRC)
	@mkdir -p $(BIN)
	cd e2e/testenv && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 \
		go build -trimpath -ldflags "$(GO_LDFLAGS)" -o $(TESTENV) .
	@touch $(TESTENV)

test: testenv $(VENV)/.installed ## Unit, property and end-to-end tests (Rust and the Python SDK suite)
	$(CARGO) test --workspace --all-targets
	$(MAKE) test-python

test-python: $(VENV)/.installed ## azure-mock conformance with the official Python Azure SDKs
	$(CARGO) build -q --workspace --all-targets
	cd e2e/azure-mock/tests/python && AZURE_MOCK_BIN=$(CURDIR)/target/debug/azure-mock \
		$(VENV)/bin/python -m pytest -q -p no:cacheprovider

$(VENV)/.installed: $(PY_REQUIREMENTS)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r $(PY_REQUIREMENTS)
	@touch $@

unit: ## Unit and property tests only (no API server)
	$(CARGO) test --workspace --lib --bins

run: testenv ## A local cluster, azure-mock and the operator with the samples applied; Ctrl-C stops it
	$(CARGO) build -q -p aksnet-operator -p aksnet-e2e --bins
	$(CARGO) run -q -p aksnet-e2e --bin aksnet-run

bench: testenv ## The operator against azure-mock and the real API server: bursts of Services, writes and latencies into docs/benchmarks.md
	$(CARGO) build -q --release -p aksnet-operator -p aksnet-e2e --bin aksnet-operator --bin aksnet-bench
	target/release/aksnet-bench --services 100,500,1000 --nodes 50 --operation-ms 200,2000 --out docs/benchmarks.md

fmt: ## Format the Rust and Go code
	$(CARGO) fmt --all
	gofmt -w e2e/testenv

lint: ## Formatting, clippy with warnings as errors, go vet, and CRD drift
	$(CARGO) fmt --all -- --check
	@test -z "$$(gofmt -l e2e/testenv)" || { gofmt -l e2e/testenv; echo "gofmt: run make fmt"; exit 1; }
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@! $(CARGO) tree -q -p aksnet-core -e normal --prefix none | grep -E '^(tokio|kube-client|kube-runtime|azure_[a-z_]+|hyper) ' \
		|| { echo "aksnet-core must not depend on tokio, a Kubernetes client or the Azure SDK"; exit 1; }
	$(MAKE) crds-check

crds: ## Regenerate the CRD YAML from the Rust types
	$(CARGO) run -q -p aksnet-crds --bin crdgen

crds-check: ## Fail when the checked-in CRD YAML differs from the types
	$(CARGO) run -q -p aksnet-crds --bin crdgen -- --check

clean:
	$(CARGO) clean
	rm -rf $(BIN)
