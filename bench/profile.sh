#!/usr/bin/env bash
# Profiles bench workers with perf: each worker is started, set up and
# warmed up (its "ready" line), then sampled (perf record -g) for SECONDS
# while it runs steps; the top shared objects and symbols (self time) go
# to OUT. Run by `make profile` after `make bench`'s worker is built.
#
# usage: bench/profile.sh OUT SECONDS
set -euo pipefail
out=$1 secs=$2
py=.venv/bin/python
worker=bin/bench-worker
command -v perf >/dev/null || { echo "profile.sh: perf not found (Debian: linux-perf)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# profile NAME CMD...: one worker, sampled for $secs seconds in steady state.
profile() {
	local name=$1
	shift
	coproc W { exec "$@" 2>"$tmp/stderr"; }
	local pid=$W_PID line
	read -r line <&"${W[0]}" || { echo "profile.sh: $name did not start:" >&2; tail -5 "$tmp/stderr" >&2; exit 1; }
	[[ $line == ready* ]] || { echo "profile.sh: $name said $line" >&2; exit 1; }
	echo "run 100000000" >&"${W[1]}"
	sleep 2 # past the first steps of the block
	perf record -q -F 499 -g -p "$pid" -o "$tmp/perf.data" -- sleep "$secs" 2>/dev/null
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	{
		echo "## $name"
		echo
		echo '```'
		perf report -i "$tmp/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | grep '%' | head -6 || true
		echo
		perf report -i "$tmp/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | grep '%' | head -12 | cut -c1-110 || true
		echo
		echo "by thread (TID:name):"
		perf report -i "$tmp/perf.data" --no-children --sort pid --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | grep '%' | head -4 || true
		echo '```'
		echo
	} >>"$out"
}

: >"$out"
{
	echo "# Profiles"
	echo
	cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
	grep -qm1 '^flags.* avx512f' /proc/cpuinfo && isa=AVX-512 || isa="no AVX-512"
	echo "Written by \`make profile\` ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $cpu, $isa, load $(cut -d' ' -f1-3 /proc/loadavg)):"
	echo "each worker of \`make bench\` sampled by \`perf record -g -F 499\` for $secs s of steady-state steps;"
	echo "self time by shared object, then by symbol, then by thread."
	echo
} >>"$out"
qat=configs/mnist_cnn_qat8.yaml
profile "W2, 1 thread: Go loop.Trainer, graph numerics" "$worker" train "$qat" 1 graph
profile "W2, 1 thread: Go loop.Trainer, eager numerics" "$worker" train "$qat" 1 eager
profile "W2, 1 thread: tfmot quantize_model + tf_keras fit" "$py" bench/worker.py fit qat tf_keras 1 0.0001
profile "W2, 2 threads: Go loop.Trainer, graph numerics" "$worker" train "$qat" 2 graph
profile "W2, 2 threads: tfmot quantize_model + tf_keras fit" "$py" bench/worker.py fit qat tf_keras 2 0.0001
fl=configs/mnist_cnn_float.yaml
profile "Float CNN, 2 threads: Go loop.Trainer, graph numerics" "$worker" train "$fl" 2 graph
profile "Float CNN, 2 threads: tf_keras fit" "$py" bench/worker.py fit float tf_keras 2 0.001
profile "W1: Go loop.Trainer, graph numerics" "$worker" example3 graph
profile "W1: Python @tf.function step" "$py" bench/worker.py example3 function
"$worker" export "$qat" "$tmp/sm" >/dev/null 2>&1 || { echo "profile.sh: export of $qat failed" >&2; exit 1; }
profile "SavedModel batch 256, 1 thread: Go savedmodel.Load + Predict" "$worker" predict "$tmp/sm" 256 1 graph
profile "SavedModel batch 256, 1 thread: Python tf.saved_model.load" "$py" bench/worker.py predict "$tmp/sm" 256 1
