# microguard — see README.md. `make demo` and `make test` are the two commands.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO        ?= go
BIN       := $(CURDIR)/bin
K8S_BIN   := $(BIN)/k8s
K8S_VERSION := v1.37.2
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# Stamp the control-plane binaries with their real version (go build leaves v0.0.0).
K8S_LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
	-X k8s.io/client-go/pkg/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37
K8S_STAMP := $(K8S_BIN)/.built-$(K8S_VERSION)
# An execution count, not a duration: with a duration, go1.26's fuzz
# coordinator can fail a clean run with "context deadline exceeded" when the
# deadline meets a busy worker (golang/go#75804, fixed in go1.27).
FUZZTIME  ?= 20000x
# helm v3, built from the Go module proxy (`go install pkg@version` ignores
# our go.mod). The ldflags are those of helm's own release build: its version,
# and the Kubernetes version `helm template` and `helm lint` assume without a
# cluster (otherwise v1.20, below the chart's kubeVersion).
HELM_VERSION := v3.22.0
HELM      := $(BIN)/helm
K8S_MINOR := $(word 2,$(subst ., ,$(K8S_VERSION)))
HELM_LDFLAGS := -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(K8S_MINOR) \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(K8S_MINOR)
CHART     := charts/microguard
CHART_KUBE_VERSION := $(K8S_VERSION:v%=%)

export KUBEBUILDER_ASSETS := $(K8S_BIN)

.PHONY: all build test unit e2e fuzz bench vet fmt-check demo k8s-bins helm chart-test clean

all: build

## build: bin/microguard
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/microguard ./cmd/microguard

## k8s-bins: kube-apiserver, etcd and kubectl built from the Go module proxy, cached in bin/k8s
k8s-bins: $(K8S_STAMP)

$(K8S_STAMP): test/k8sbins/go.mod test/k8sbins/go.sum
	@mkdir -p $(K8S_BIN)
	@echo ">> building kube-apiserver, etcd and kubectl $(K8S_VERSION) from the Go module proxy (first time: ~6-10 min on 2 cores)"
	cd test/k8sbins && $(GO) build -trimpath -ldflags '$(K8S_LDFLAGS)' -o $(K8S_BIN)/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
	cd test/k8sbins && $(GO) build -trimpath -ldflags '$(K8S_LDFLAGS)' -o $(K8S_BIN)/kubectl k8s.io/kubernetes/cmd/kubectl
	cd test/k8sbins && $(GO) build -trimpath -o $(K8S_BIN)/etcd go.etcd.io/etcd/server/v3
	@rm -f $(K8S_BIN)/.built-* && touch $@

## helm: helm $(HELM_VERSION) from the Go module proxy, cached in bin/helm (built only when missing)
helm: $(HELM)

$(HELM):
	@mkdir -p $(BIN)
	@echo ">> building helm $(HELM_VERSION) from the Go module proxy (first time: ~2 min)"
	GOBIN=$(BIN) $(GO) install -trimpath -ldflags '$(HELM_LDFLAGS)' helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

## chart-test: helm lint and helm template of charts/microguard (defaults and every ci/*-values.yaml), then the Go tests of the rendered objects
chart-test: helm
	@set -e; for values in "" $(CHART)/ci/*-values.yaml; do \
		echo ">> helm lint + template $(CHART) $${values:-(default values)}"; \
		$(HELM) lint --strict --kube-version $(CHART_KUBE_VERSION) --namespace microguard $(CHART) $${values:+-f $$values}; \
		$(HELM) template microguard $(CHART) --kube-version $(CHART_KUBE_VERSION) --namespace microguard $${values:+-f $$values} >/dev/null; \
	done
	HELM=$(HELM) $(GO) test -count=1 ./test/chart/...

## test: everything — vet, gofmt, unit tests (Rego tests included), the Helm chart, fuzz smoke, e2e on a real API server
test: vet fmt-check unit chart-test fuzz e2e

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l cmd pkg policies test); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -count=1 ./cmd/... ./pkg/... ./policies/... ./test/load/... ./test/localcluster/... ./test/pgtest/...

## fuzz: each fuzz target for $(FUZZTIME) executions (or a duration such as 1m), on top of its seed corpus
# (An input that finds new coverage is minimized for 5 s at most, not Go's default of 60 s, during which
# a smoke run makes no progress: CI starts with an empty fuzz cache, which finds many.)
fuzz:
	@set -e; for pkg in $$($(GO) list ./pkg/...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo ">> fuzz $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
		done; \
	done

e2e: k8s-bins helm
	$(GO) test -count=1 -timeout 20m ./test/e2e/...

## bench: benchmarks of the hot paths, then the load run against the no-op floor; figures go to BENCHMARKS.md
# -p 1: one package's benchmarks at a time (go test runs as many packages at
# once as there are cores, and two benchmarks sharing 2 cores time each other).
bench: k8s-bins build
	$(GO) test -p 1 -run '^$$' -bench . -benchmem -count 3 ./pkg/... ./policies/... | tee $(BIN)/bench.txt
	$(GO) run ./test/load -microguard $(BIN)/microguard -k8s-bin $(K8S_BIN) -go-bench $(BIN)/bench.txt -out BENCHMARKS.md

## demo: a real local control plane, microguard serving, the sample app admitted, mutated and denied
demo: k8s-bins build
	$(GO) run ./test/demo -microguard $(BIN)/microguard -k8s-bin $(K8S_BIN) -examples examples/where2eat -config examples/config.yaml

clean:
	rm -rf $(BIN)/microguard
