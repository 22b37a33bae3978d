# tierpack — build, test and code generation.
#
#   make            build bin/tierpack and bin/tierpack-plugin-chart
#   make test       run the whole test suite (what .ci/run runs); installs the
#                   ORAS CLI, helm, cosign (v2 and v3) and crane into bin/ for the
#                   interop tests
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

.PHONY: all build test test-short vet generate check-generate demo clean bench examples

all: build

# tierpack and its companion plugins (tierpack-plugin-chart), side by side
# as `go install github.com/tierpack/tierpack/cmd/...` puts them.
build:
	$(GO) build -o $(BIN)/ ./cmd/...

ORAS_VERSION  := v1.3.6
HELM_VERSION  := v3.22.0
COSIGN_VERSION := v2.6.5
COSIGN3_VERSION := v3.1.3
CRANE_VERSION := v0.22.1

# The ORAS CLI is a test dependency: the interop tests check that plain ORAS
# reads what tierpack pushes. It is installed from the Go module proxy.
$(BIN)/oras:
	GOBIN=$(BIN) $(GO) install oras.land/oras/cmd/oras@$(ORAS_VERSION)

# helm likewise: the chart tests run helm show/pull/template on what tierpack pushed.
$(BIN)/helm:
	GOBIN=$(BIN) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# cosign likewise: the signature tests run cosign sign/verify against tierpack.
$(BIN)/cosign:
	GOBIN=$(BIN) $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION)

# cosign v3 as well, as bin/cosign3: it writes and reads Sigstore bundle
# referrers, which tierpack writes too; v2 stays bin/cosign because it reads
# only the legacy .sig tag tierpack keeps writing for v2 verifiers.
$(BIN)/cosign3:
	GOBIN=$(BIN)/cosign3-install $(GO) install github.com/sigstore/cosign/v3/cmd/cosign@$(COSIGN3_VERSION)
	mv $(BIN)/cosign3-install/cosign $@ && rmdir $(BIN)/cosign3-install

# crane (go-containerregistry's CLI) likewise: crane.txtar reads what tierpack
# pushes with it and runs its copy/mutate/tag attacks.
$(BIN)/crane:
	GOBIN=$(BIN) $(GO) install github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION)

# The repository's three modules (go.work): the host, the plugin SDK and the
# example out-of-tree plugin. ./... alone reaches only the host's packages.
MODULES       := ./... ./sdk/... ./examples/plugins/falco-rules/...

test: $(BIN)/oras $(BIN)/helm $(BIN)/cosign $(BIN)/cosign3 $(BIN)/crane examples
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
