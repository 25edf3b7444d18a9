package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Keep marks the end of the generated part of BENCHMARKS.md: Page keeps
// whatever follows it in the previous file (profiles, notes).
const Keep = "<!-- Written by make bench down to here; text below this line is kept. -->"

// Page is BENCHMARKS.md for r: the machine, the table, the method, and
// the part of previous (the file's old text) after Keep.
func Page(r Results, previous string) string {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (bench/main.go; figures in [bench/results.json](bench/results.json)).\n")
	fmt.Fprintf(&b, "Run %s on %d CPUs (%s), TensorFlow %s, %s; %d repeats%s, %.0f s in all.\n\n",
		r.Date, r.Machine.NProc, r.Machine.CPU, r.TF, r.Go, r.Repeats, map[bool]string{true: " (quick mode)"}[r.Quick], r.Seconds)
	if loaded(r.Machine) {
		fmt.Fprintf(&b, "**The machine was shared and loaded during this run** (load average %s at the start, %s at the end, on %d CPUs): "+
			"absolute times are inflated and noisy; the per-repeat ratios, taken between blocks run back to back, are the result.\n\n",
			r.Machine.LoadStart, r.Machine.LoadEnd, r.Machine.NProc)
	} else {
		fmt.Fprintf(&b, "Load average %s at the start, %s at the end.\n\n", r.Machine.LoadStart, r.Machine.LoadEnd)
	}
	b.WriteString("Times are milliseconds per step (train step, or one inference call on the whole batch). " +
		"\"Go's speed vs it\" is the contender's time over Go's, repeat by repeat: the median, then the range. " +
		"Above 1, Go is faster. Targets are issue 12's.\n\n")
	b.WriteString(Markdown(r))
	b.WriteString("\n## Method\n\n" + method + "\n")
	b.WriteString("\n" + Keep + "\n")
	if _, after, ok := strings.Cut(previous, Keep+"\n"); ok {
		b.WriteString(after)
	}
	return b.String()
}

// loaded says whether the one-minute load average at the start of the run
// was above half the CPUs. The load at the end does not count: by then the
// benchmark's own workers (up to the machine's threads) are in it.
func loaded(m Machine) bool {
	f := strings.Fields(m.LoadStart)
	if len(f) == 0 {
		return false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return err == nil && v > float64(m.NProc)/2
}

const method = `Each contender is a long-lived worker process (bench/goworker for Go, ` +
	"`bench/worker.py` with the project venv for Python) that builds its model, runs a first step " +
	"(tracing, compiling) and then answers requests for blocks of steps over stdin/stdout. " +
	"The runner starts one workload's workers, warms each up (growing blocks, then a few seconds of steps) " +
	"and sizes its block to about half a second (a second for the CNN training workloads). " +
	"Then, every repeat, it asks each worker in turn for one block, rotating the order by one each repeat, " +
	"and takes the ratio contender/Go for that repeat, so both sides of a ratio ran seconds apart under the same load. " +
	"Only one workload's workers exist at a time. Peak RSS is the worker's VmHWM from /proc/PID/status after its last block. " +
	"Numerics: Go's reference row runs in graph numerics (tfgraph.GraphNumerics: Grappler on, as in tf.function and Keras fit, " +
	"whose results it reproduces bit for bit); the rows \"eager numerics\" run the same Go code with no graph rewrites " +
	"(tfgraph.EagerNumerics, eager TensorFlow's bits), and \"XLA\" with SessionConfig.XLA (autoclustering, TF_XLA_FLAGS=--tf_xla_cpu_global_jit). " +
	"Malloc: the Go worker calls tfgraph.KeepFreedMemory at start, as qat's commands do (glibc keeps the memory TensorFlow frees between runs instead of returning it to the kernel); the rows \"glibc's default malloc\" run the same worker without it. " +
	"Threads: Go sets tfgraph.SessionConfig{IntraOpThreads: n, InterOpThreads: n}, except at one thread " +
	"InterOpThreads: tfgraph.InlineOps (ops run on the calling thread, qat's default), Python " +
	"tf.config.threading's intra- and inter-op pools to n (tf.data keeps its own threads). " +
	"W1 fetches every step's loss on both sides (Go's trainer returns it); Python's steps are the article's " +
	"train_step (Keras 3) under tf.function, tf.function(jit_compile=True), or eager. " +
	"W2 and the float CNN train on MNIST, batch 64: Go's loop.Trainer gathers each shuffled batch itself, on another goroutine while the step before runs; " +
	"Keras runs one model.fit over a tf.data pipeline (shuffle each epoch, repeat, batch, prefetch) for the worker's " +
	"whole life, a callback answering the requests between batches, so a block is fit's steady-state time per step without its start-up. " +
	"Inference: Go exports the 8-bit QAT CNN once (savedmodel.Export, after 20 training steps); Go's " +
	"savedmodel.Load + Predict and Python's tf.saved_model.load + the serving_default signature run it on the first " +
	"1 or 256 MNIST test images, converting the input to a tensor and fetching the logits on every call. " +
	"A worker that exits, errs or stops answering (20 times its block's expected time, at least a minute) " +
	"is reported below the table with the end of its stderr, and the others go on."
