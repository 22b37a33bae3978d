# tierpack — build, test and code generation.
#
#   make            build bin/tierpack and bin/tierpack-plugin-chart
#   make test       run the whole test suite (what .ci/run runs); puts the ORAS
#                   CLI, helm 4 and 3, cosign v2 and v3 and crane into bin/ for the
#                   interop tests (built once per machine: see TOOLS_CACHE)
#   make examples   build the example exporters' binaries (not committed)
#   make generate   regenerate the gRPC stubs from sdk/proto (needs protoc 3.21.12,
#                   Debian's protobuf-compiler; the Go plugins are pinned below)
#   make check-generate  fail if the committed stubs differ from a fresh generation

GO            ?= go
BIN           := $(CURDIR)/bin
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
PROTOC_VERSION             := 3.21.12
PROTO_DIR     := sdk/proto
PROTO_FILES   := $(shell find $(PROTO_DIR) -name '*.proto' | sort)

.PHONY: all build test test-short vet generate check-generate demo clean bench examples anchors

all: build

# tierpack and its companion plugins (tierpack-plugin-chart), side by side
# as `go install github.com/tierpack/tierpack/cmd/...` puts them.
build:
	$(GO) build -tags urfave_cli_no_docs -o $(BIN)/ ./cmd/...

# The interop CLIs the tests run against what tierpack pushes (the "anchors"):
# each is built from source once per machine, into a cache keyed by its
# version that every clone (and .ci/run) reuses, then copied into bin/. A
# version change builds the new one; `make clean` keeps the cache.
ORAS_VERSION    := v1.3.6
HELM_VERSION    := v4.3.2
HELM3_VERSION   := v3.21.4
COSIGN_VERSION  := v2.6.5
COSIGN3_VERSION := v3.1.3
CRANE_VERSION   := v0.22.1
TOOLS_CACHE     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tierpack-tools
ANCHORS         := $(BIN)/oras $(BIN)/helm $(BIN)/helm3 $(BIN)/cosign $(BIN)/cosign3 $(BIN)/crane

# $(call build-tool,PACKAGE@VERSION) builds one command into the cache file $@.
define build-tool
	@echo "building $(notdir $@) from source, once on this machine (kept in $(TOOLS_CACHE))"
	@mkdir -p $(TOOLS_CACHE) && rm -rf $@.tmp
	GOBIN=$@.tmp $(GO) install $(1)
	mv $@.tmp/* $@ && rmdir $@.tmp
endef

# ORAS: the interop tests check that plain ORAS reads what tierpack pushes.
$(TOOLS_CACHE)/oras-$(ORAS_VERSION):
	$(call build-tool,oras.land/oras/cmd/oras@$(ORAS_VERSION))
# helm 4 (bin/helm) and helm 3 (bin/helm3): the chart tests run helm
# show/pull/template and lint on what tierpack pushed, so charts stay
# readable by both.
$(TOOLS_CACHE)/helm-$(HELM_VERSION):
	$(call build-tool,helm.sh/helm/v4/cmd/helm@$(HELM_VERSION))
$(TOOLS_CACHE)/helm3-$(HELM3_VERSION):
	$(call build-tool,helm.sh/helm/v3/cmd/helm@$(HELM3_VERSION))
# cosign v2 (bin/cosign) reads the legacy .sig tag tierpack keeps writing;
# cosign v3 (bin/cosign3) writes and reads Sigstore bundle referrers.
$(TOOLS_CACHE)/cosign-$(COSIGN_VERSION):
	$(call build-tool,github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION))
$(TOOLS_CACHE)/cosign3-$(COSIGN3_VERSION):
	$(call build-tool,github.com/sigstore/cosign/v3/cmd/cosign@$(COSIGN3_VERSION))
# crane (go-containerregistry's CLI): crane.txtar reads what tierpack pushes
# with it and runs its copy/mutate/tag attacks.
$(TOOLS_CACHE)/crane-$(CRANE_VERSION):
	$(call build-tool,github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION))

$(BIN)/oras: $(TOOLS_CACHE)/oras-$(ORAS_VERSION)
$(BIN)/helm: $(TOOLS_CACHE)/helm-$(HELM_VERSION)
$(BIN)/helm3: $(TOOLS_CACHE)/helm3-$(HELM3_VERSION)
$(BIN)/cosign: $(TOOLS_CACHE)/cosign-$(COSIGN_VERSION)
$(BIN)/cosign3: $(TOOLS_CACHE)/cosign3-$(COSIGN3_VERSION)
$(BIN)/crane: $(TOOLS_CACHE)/crane-$(CRANE_VERSION)
$(ANCHORS):
	@mkdir -p $(BIN) && cp $< $@

anchors: $(ANCHORS)

# The repository's three modules (go.work): the host, the plugin SDK and the
# example out-of-tree plugin. ./... alone reaches only the host's packages.
MODULES       := ./... ./sdk/... ./examples/plugins/falco-rules/...

test: $(ANCHORS) examples
	$(GO) vet $(MODULES)
	PATH="$(BIN):$$PATH" $(GO) test -count=1 $(MODULES)

# Example exporters: examples/exporters/NAME/src is a Go program; its binaries
# go to bin/OS-ARCH/NAME as its tierpack.yaml declares them. Static (the image
# has no C library) and reproducible (same source, same image digests).
EXAMPLE_EXPORTERS := $(patsubst examples/exporters/%/src,%,$(wildcard examples/exporters/*/src))
EXAMPLE_PLATFORMS := linux/amd64 linux/arm64

examples:
	@set -e; for name in $(EXAMPLE_EXPORTERS); do for p in $(EXAMPLE_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; out=examples/exporters/$$name/bin/$$os-$$arch/$$name; \
	  echo "go build $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags='-s -w -buildid=' -o $$out ./examples/exporters/$$name/src; \
	done; done

test-short:
	$(GO) test -short $(MODULES)

vet:
	$(GO) vet $(MODULES)

$(BIN)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION):
	GOBIN=$(BIN)/tmp $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	mv $(BIN)/tmp/protoc-gen-go $@

$(BIN)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION):
	GOBIN=$(BIN)/tmp $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	mv $(BIN)/tmp/protoc-gen-go-grpc $@

generate: $(BIN)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION) $(BIN)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION)
	@protoc --version | grep -q ' $(PROTOC_VERSION)$$' || { \
	  echo "make generate: need protoc $(PROTOC_VERSION) for byte-identical output, found: $$(protoc --version 2>&1)"; \
	  echo "  on Debian 12: apt-get install protobuf-compiler"; exit 1; }
	protoc -I $(PROTO_DIR) \
	  --plugin=protoc-gen-go=$(BIN)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION) \
	  --plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION) \
	  --go_out=$(PROTO_DIR) --go_opt=paths=source_relative \
	  --go-grpc_out=$(PROTO_DIR) --go-grpc_opt=paths=source_relative \
	  $(patsubst $(PROTO_DIR)/%,%,$(PROTO_FILES))

check-generate: generate
	@git diff --exit-code -- $(PROTO_DIR) || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }

# Benchmarks against ORAS and helm (see bench/main.go; takes a few minutes
# and ~8 GiB of scratch disk for the 1 GiB cases).
bench: build $(BIN)/oras $(BIN)/helm
	$(GO) run ./bench -tierpack $(BIN)/tierpack -oras $(BIN)/oras -helm $(BIN)/helm $(BENCHFLAGS)

demo: build
	./examples/demo.sh $(BIN)/tierpack

clean:
	rm -rf $(BIN)
