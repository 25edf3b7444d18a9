// Command bench is `make bench`: it runs this project and its Python
// contenders side by side on the workloads of issue 12 and writes
// BENCHMARKS.md and bench/results.json. See internal/bench for the method
// and the worker protocol, bench/goworker for the Go worker and
// bench/worker.py for the Python ones.
//
//	go run ./bench [-quick] [-repeats N] [-only w1,w2-1t,...]
//
// BENCH_QUICK=1 in the environment is -quick (3 repeats, short blocks).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qat-go/qat/internal/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	worker := flag.String("worker", "bin/bench-worker", "the Go worker binary (go build ./bench/goworker)")
	python := flag.String("python", ".venv/bin/python", "the Python with TensorFlow, tf_keras and tfmot")
	md := flag.String("md", "BENCHMARKS.md", "write the table here")
	js := flag.String("json", "bench/results.json", "write the figures here")
	quick := flag.Bool("quick", os.Getenv("BENCH_QUICK") == "1", "3 repeats of short blocks: a fast check of the harness")
	repeats := flag.Int("repeats", 0, "repeats (default 12, or 3 with -quick)")
	only := flag.String("only", "", "comma-separated workload ids to run (default all)")
	flag.Parse()

	o := bench.Options{Repeats: 12, Block: 500 * time.Millisecond, Warmup: 3 * time.Second,
		MaxSteps: 100000, StartTimeout: 5 * time.Minute, Log: os.Stderr}
	if *quick {
		o.Repeats, o.Block, o.Warmup = 3, 200*time.Millisecond, time.Second
	}
	if *repeats > 0 {
		o.Repeats = *repeats
	}
	for _, f := range []string{*worker, *python} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w (run make bench, which builds the worker and the venv)", err)
		}
	}
	start := time.Now()
	res := bench.Results{Date: start.UTC().Format(time.RFC3339), Go: runtime.Version(), Repeats: o.Repeats, Quick: *quick,
		Machine: bench.Machine{NProc: runtime.NumCPU(), CPU: cpuModel(), LoadStart: loadAvg()}}
	out, err := exec.Command(*python, "bench/worker.py", "version").Output()
	if err != nil {
		return fmt.Errorf("%s bench/worker.py version: %w", *python, err)
	}
	res.TF = strings.TrimSpace(string(out))

	tmp, err := os.MkdirTemp("", "qat-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	sm := filepath.Join(tmp, "saved_model")
	if out, err := exec.Command(*worker, "export", "configs/mnist_cnn_qat8.yaml", sm).CombinedOutput(); err != nil {
		return fmt.Errorf("export the SavedModel: %w\n%s", err, out)
	}

	failed := false
	for _, s := range specs(*worker, *python, sm, res.Machine.NProc) {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), s.ID) {
			continue
		}
		wo := o
		if strings.HasPrefix(s.ID, "w2") || strings.HasPrefix(s.ID, "float") {
			wo.Block *= 2 // fit's steps are ~10 ms and more: longer blocks
		}
		fmt.Fprintf(os.Stderr, "== %s: %s, %d thread(s)\n", s.ID, s.Title, s.Threads)
		w := bench.RunWorkload(s, wo)
		for _, c := range w.Contenders {
			failed = failed || c.Error != ""
		}
		res.Workloads = append(res.Workloads, w)
	}
	res.Machine.LoadEnd = loadAvg()
	res.Seconds = time.Since(start).Seconds()

	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*js, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := writeMarkdown(*md, res); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s and %s in %.0f s\n", *md, *js, res.Seconds)
	if failed {
		return fmt.Errorf("some workers failed (see %s)", *md)
	}
	return nil
}

// specs are issue 12's workloads. threads is the machine's thread count.
func specs(worker, python, savedModel string, threads int) []bench.Spec {
	py := func(args ...string) []string { return append([]string{python, "bench/worker.py"}, args...) }
	t := strconv.Itoa(threads)
	// Go's reference runs in graph numerics, like the Python contenders
	// but the eager one; Go in eager numerics and with XLA are measured
	// beside it.
	xla := []string{"TF_XLA_FLAGS=--tf_xla_cpu_global_jit"}
	// The Go worker calls tfgraph.KeepFreedMemory as qat's commands do;
	// these rows run it without, on glibc's adaptive thresholds.
	defaultMalloc := []string{"BENCH_DEFAULT_MALLOC=1"}
	var s []bench.Spec
	s = append(s, bench.Spec{ID: "w1", Title: "W1: article Example 3 (10-32-10, 100 examples), train step", Unit: "train step", Threads: 1,
		Contenders: []bench.ContenderSpec{
			{Name: "Go loop.Trainer", Argv: []string{worker, "example3", "graph"}},
			{Name: "Go loop.Trainer, eager numerics", Argv: []string{worker, "example3", "eager"}},
			{Name: "Go loop.Trainer, glibc's default malloc", Argv: []string{worker, "example3", "graph"}, Env: defaultMalloc},
			{Name: "Go loop.Trainer, XLA", Argv: []string{worker, "example3", "xla"}, Env: xla},
			{Name: "Python @tf.function step", Argv: py("example3", "function"), Target: 3},
			{Name: "Python @tf.function(jit_compile=True) step", Argv: py("example3", "jit"), Target: 2},
			{Name: "Python eager GradientTape (the article)", Argv: py("example3", "eager")},
		}})
	qat := "configs/mnist_cnn_qat8.yaml"
	for _, n := range []string{"1", t} {
		s = append(s, bench.Spec{ID: "w2-" + n + "t", Title: "W2: MNIST QAT CNN (" + qat + "), batch 64", Unit: "train step", Threads: atoi(n),
			Contenders: []bench.ContenderSpec{
				{Name: "Go loop.Trainer", Argv: []string{worker, "train", qat, n, "graph"}},
				{Name: "Go loop.Trainer, eager numerics", Argv: []string{worker, "train", qat, n, "eager"}},
				{Name: "Go loop.Trainer, glibc's default malloc", Argv: []string{worker, "train", qat, n, "graph"}, Env: defaultMalloc},
				{Name: "Go loop.Trainer, XLA", Argv: []string{worker, "train", qat, n, "xla"}, Env: xla},
				{Name: "tfmot quantize_model + tf_keras fit, tf.data", Argv: py("fit", "qat", "tf_keras", n, "0.0001"), Target: 1.15},
			}})
		if n == t {
			break // one thread is the machine's threads
		}
	}
	fl := "configs/mnist_cnn_float.yaml"
	s = append(s, bench.Spec{ID: "float-" + t + "t", Title: "Float CNN (" + fl + "), batch 64", Unit: "train step", Threads: threads,
		Contenders: []bench.ContenderSpec{
			{Name: "Go loop.Trainer", Argv: []string{worker, "train", fl, t, "graph"}},
			{Name: "Go loop.Trainer, eager numerics", Argv: []string{worker, "train", fl, t, "eager"}},
			{Name: "Go loop.Trainer, glibc's default malloc", Argv: []string{worker, "train", fl, t, "graph"}, Env: defaultMalloc},
			{Name: "tf_keras fit, tf.data", Argv: py("fit", "float", "tf_keras", t, "0.001"), Target: 1.1},
			{Name: "Keras 3 fit, tf.data", Argv: py("fit", "float", "keras3", t, "0.001"), Target: 1.1},
		}})
	for _, b := range []struct {
		n      string
		target float64
	}{{"1", 1.5}, {"256", 1.0}} {
		s = append(s, bench.Spec{ID: "sm-b" + b.n, Title: "SavedModel inference (QAT CNN exported from Go), batch " + b.n, Unit: "inference", Threads: 1,
			Contenders: []bench.ContenderSpec{
				{Name: "Go savedmodel.Load + Predict", Argv: []string{worker, "predict", savedModel, b.n, "1", "graph"}},
				{Name: "Go savedmodel.Load + Predict, eager numerics", Argv: []string{worker, "predict", savedModel, b.n, "1", "eager"}},
				{Name: "Go savedmodel.Load + Predict, glibc's default malloc", Argv: []string{worker, "predict", savedModel, b.n, "1", "graph"}, Env: defaultMalloc},
				{Name: "Python tf.saved_model.load, serving_default", Argv: py("predict", savedModel, b.n, "1"), Target: b.target},
			}})
	}
	return s
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// cpuModel is the first "model name" of /proc/cpuinfo and whether the
// CPU has AVX-512: TensorFlow's kernels differ with it (on the Intel CPUs
// seen here, oneDNN's convolution and pooling primitives run; on AMD
// without AVX-512, Eigen's), so ratios from two machines are not one series.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	model, isa := "unknown", "no AVX-512"
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			if model == "unknown" {
				model = strings.TrimSpace(v)
			}
		case "flags":
			if slices.Contains(strings.Fields(v), "avx512f") {
				isa = "AVX-512"
			}
		}
	}
	return model + ", " + isa
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// writeMarkdown writes BENCHMARKS.md, keeping the text below bench.Keep.
func writeMarkdown(path string, r bench.Results) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(path, []byte(bench.Page(r, string(old))), 0o644)
}
