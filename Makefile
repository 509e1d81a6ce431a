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
KSTATUS := $(BIN)/kstatus
KSTATUS_SRC := $(wildcard e2e/kstatus/*.go) e2e/kstatus/go.mod e2e/kstatus/go.sum
HELM := $(BIN)/helm
GO_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(K8S_MINOR)

# The newest kubectl on the machine: some images ship versioned kubectl.1.N binaries beside it.
KUBECTL ?= $(shell d=$$(dirname "$$(readlink -f "$$(command -v kubectl)")" 2>/dev/null); \
	ls "$$d"/kubectl.1.* 2>/dev/null | sort -V | tail -n 1 | grep . || echo kubectl)
export KUBECTL
export AKSNET_TESTENV_BIN := $(TESTENV)
export AKSNET_KSTATUS_BIN := $(KSTATUS)
export AKSNET_HELM_BIN := $(HELM)
CARGO ?= cargo

# The release: the workspace version, and the image named by it (never `latest`).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
REVISION := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
MANIFEST_IMAGE_REPO := ghcr.io/aksnet/aksnet-operator
IMAGE_REPO ?= $(MANIFEST_IMAGE_REPO)
IMAGE ?= $(IMAGE_REPO):$(VERSION)
IMAGE_ARCHIVE := $(CURDIR)/dist/aksnet-operator-$(VERSION).oci.tar
GO_ENV := GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
GO_DIRS := e2e/testenv e2e/kstatus e2e/imagebuild e2e/azure-mock/tests/go
GO_VET_DIRS := e2e/kstatus e2e/imagebuild e2e/azure-mock/tests/go

.PHONY: build test test-python test-go test-image unit run bench bench-instructions testenv fmt lint vet-testenv crds crds-check clean \
	image release-manifests deploy undeploy
VENV := $(CURDIR)/.venv
PY_REQUIREMENTS := e2e/azure-mock/tests/python/requirements.txt

build: testenv ## Build the workspace and the test API server
	$(CARGO) build --workspace --all-targets

testenv: $(TESTENV) $(KSTATUS) $(HELM) ## Build the tools of the tests from Go modules: kube-apiserver + etcd, Flux's kstatus, helm

$(HELM): e2e/helm/go.mod e2e/helm/go.sum
	@mkdir -p $(BIN)
	cd e2e/helm && $(GO_ENV) go build -trimpath -o $(HELM) helm.sh/helm/v4/cmd/helm

$(KSTATUS): $(KSTATUS_SRC)
	@mkdir -p $(BIN)
	cd e2e/kstatus && $(GO_ENV) go build -trimpath -o $(KSTATUS) .

$(TESTENV): $(TESTENV_SRC)
	@mkdir -p $(BIN)
	cd e2e/testenv && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 \
		go build -trimpath -ldflags "$(GO_LDFLAGS)" -o $(TESTENV) .
	@touch $(TESTENV)

test: testenv $(VENV)/.installed ## Unit, property and end-to-end tests (Rust, the Python, Go and JavaScript SDK suites, the image)
	$(CARGO) test --workspace --all-targets
	$(MAKE) test-python
	$(MAKE) test-go
	$(MAKE) test-js
	$(MAKE) test-image

test-python: $(VENV)/.installed ## azure-mock conformance with the official Python Azure SDKs
	$(CARGO) build -q --workspace --all-targets
	cd e2e/azure-mock/tests/python && AZURE_MOCK_BIN=$(CURDIR)/target/debug/azure-mock \
		$(VENV)/bin/python -m pytest -q -p no:cacheprovider

test-go: ## azure-mock conformance with the official Azure SDK for Go (the cloud provider's SDK)
	$(CARGO) build -q -p azure-mock
	cd e2e/azure-mock/tests/go && AZURE_MOCK_BIN=$(CURDIR)/target/debug/azure-mock $(GO_ENV) go test -count=1 ./...

test-js: ## azure-mock conformance with the official Azure SDK for JavaScript (npm ci from the lockfile)
	$(CARGO) build -q -p azure-mock
	cd e2e/azure-mock/tests/js && npm ci --no-audit --no-fund --loglevel=error \
		&& AZURE_MOCK_BIN=$(CURDIR)/target/debug/azure-mock node --test

test-image: image ## Read the image archive back: config, labels, and the binary of its layer run with --version
	cd e2e/imagebuild && AKSNET_IMAGE_ARCHIVE=$(IMAGE_ARCHIVE) AKSNET_VERSION=$(VERSION) $(GO_ENV) go test -count=1 ./...

image: ## OCI image archive dist/aksnet-operator-<version>.oci.tar, built without a container engine
	$(CARGO) build --locked --profile image -p aksnet-operator
	cd e2e/imagebuild && $(GO_ENV) go run . --binary $(CURDIR)/target/image/aksnet-operator \
		--out $(IMAGE_ARCHIVE) --tag $(IMAGE) --version $(VERSION) --revision $(REVISION)
	@echo "wrote $(IMAGE_ARCHIVE) ($(IMAGE)); load it with: skopeo copy oci-archive:$(IMAGE_ARCHIVE) docker://$(IMAGE)"

release-manifests: ## dist/install.yaml: the CRD, RBAC and operator of this version in one file
	@mkdir -p dist
	$(KUBECTL) kustomize config/default | sed 's|image: $(MANIFEST_IMAGE_REPO):.*|image: $(IMAGE)|' > dist/install.yaml
	@grep -q 'image: $(IMAGE)$$' dist/install.yaml || { echo "dist/install.yaml does not name $(IMAGE)"; exit 1; }
	@echo "wrote dist/install.yaml for $(IMAGE)"

deploy: ## Install the operator on the current kubectl context (server-side apply of config/default)
	$(KUBECTL) apply --server-side -k config/default

UNDEPLOY_TIMEOUT ?= 10m
undeploy: ## Uninstall in an order that tears Azure down: AksNetworks first, then the operator and its CRD
	@if $(KUBECTL) get crd aksnetworks.aksnet.io >/dev/null 2>&1; then \
		echo "1/2 deleting every AksNetwork; the running operator tears its Azure resources down"; \
		$(KUBECTL) delete aksnetworks.aksnet.io --all --wait --timeout=$(UNDEPLOY_TIMEOUT); \
	fi
	@echo "2/2 deleting the operator, its RBAC and the CRD"
	$(KUBECTL) delete -k config/default --ignore-not-found --wait=false
	$(KUBECTL) wait --for=delete crd/aksnetworks.aksnet.io --timeout=$(UNDEPLOY_TIMEOUT)

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
	target/release/aksnet-bench --services 2000 --shared 500 --static-ips 50 --nodes 200 --operation-ms 200 \
		--out docs/benchmarks.md --section scale

# The caches simulated: valgrind's L1 (the host's) and 8 MiB of last level, about one core's
# share; estimated cycles weigh an L1 miss 10 instructions and a last-level miss 100.
bench-instructions: ## Instructions, cache misses and estimated cycles of one steady plan + diff, by valgrind (AKSNET_BENCH_SERVICES, default 2000)
	@command -v valgrind > /dev/null || { echo "bench-instructions needs valgrind"; exit 1; }
	exe=$$($(CARGO) bench -q -p aksnet-core --bench plan_instructions --no-run --message-format=json \
		| sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'); \
	valgrind --tool=callgrind --cache-sim=yes --LL=8388608,16,64 \
		--callgrind-out-file=target/callgrind.plan.out \
		--toggle-collect='plan_instructions::measure' "$$exe" --bench 2>&1 \
		| awk '/measured/ { print } /Collected :/ { \
			printf "instructions %d, L1 misses %d, last-level misses %d, estimated cycles %d\n", \
				$$4, $$7 + $$8 + $$9, $$10 + $$11 + $$12, \
				$$4 + 10 * ($$7 + $$8 + $$9) + 100 * ($$10 + $$11 + $$12) }'
	@echo "per function: callgrind_annotate --inclusive=yes target/callgrind.plan.out"

fmt: ## Format the Rust and Go code
	$(CARGO) fmt --all
	gofmt -w $(GO_DIRS)

lint: ## Formatting (Rust and Go), go vet (but e2e/testenv), clippy and rustdoc with warnings as errors, the core crate's dependency rule, and CRD drift
	$(CARGO) fmt --all -- --check
	@test -z "$$(gofmt -l $(GO_DIRS))" || { gofmt -l $(GO_DIRS); echo "gofmt: run make fmt"; exit 1; }
	@# go vet on e2e/testenv type-checks all of k8s.io/kubernetes for its analysis facts:
	@# 8.5 minutes on a cold cache here, so it is vetted on demand (make vet-testenv), not in CI.
	for d in $(GO_VET_DIRS); do (cd $$d && go vet ./...) || exit 1; done
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -q --no-deps --workspace
	@! $(CARGO) tree -q -p aksnet-core -e normal --prefix none | grep -E '^(tokio|kube-client|kube-runtime|azure_[a-z_]+|hyper) ' \
		|| { echo "aksnet-core must not depend on tokio, a Kubernetes client or the Azure SDK"; exit 1; }
	$(MAKE) crds-check

vet-testenv: ## go vet the test API server's program (slow on a cold Go cache: all of Kubernetes)
	cd e2e/testenv && go vet ./...

crds: ## Regenerate the CRD YAML from the Rust types
	$(CARGO) run -q -p aksnet-crds --bin crdgen

crds-check: ## Fail when the checked-in CRD YAML differs from the types
	$(CARGO) run -q -p aksnet-crds --bin crdgen -- --check

clean:
	$(CARGO) clean
	rm -rf $(BIN)
