# qat-go. The two commands a user needs: `make run` and `make test`.
# Both first run `make deps`, which installs TensorFlow from the
# tensorflow-cpu wheel into .venv and writes the cgo flags to .deps/cgo.mk.
SHELL := /bin/bash
GO ?= go

# Installs (or refreshes) the Python venv and the cgo link folder. GNU make
# remakes this included file before anything else, so every target below has
# libtensorflow in place; when nothing changed it is a no-op.
include .deps/cgo.mk
.deps/cgo.mk: third_party/requirements.txt third_party/deps.sh
	@bash third_party/deps.sh

OUT ?= out
.DEFAULT_GOAL := build

.PHONY: deps build run test vet fmt-check clean
deps: .deps/cgo.mk

build:
	$(GO) build -o bin/qat ./cmd/qat

## run: train the article's Example 3 (10 -> 32 -> 10, 100 Adam steps) in Go.
run: build
	./bin/qat train --example 3 --out $(OUT)/example3

## test: formatting, vet, and every test (parity tests call .venv's TensorFlow).
test: fmt-check vet
	$(GO) test -count=1 -timeout 60m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@files=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.venv/*')); \
	if [ -n "$$files" ]; then echo "gofmt needed: $$files" >&2; exit 1; fi

clean:
	rm -rf bin $(OUT)
