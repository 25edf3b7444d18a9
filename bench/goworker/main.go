// Command goworker is the Go contender of `make bench` (bench/main.go): a
// long-lived process that sets up one workload with the library, runs its
// first step, says "ready" and then answers "run N" with "ms_per_step X"
// (the protocol of internal/bench). It also exports the SavedModel the
// inference workloads load.
//
//	goworker example3 [MODE]                          the article's Example 3, full batch, 1 thread
//	goworker train CONFIG.yaml THREADS [MODE]         a config's model on MNIST, its batch size
//	goworker predict SAVED_MODEL BATCH THREADS [MODE] savedmodel.Load + Predict on BATCH test images
//	goworker export CONFIG.yaml DIR                   train 20 steps, savedmodel.Export to DIR
//	goworker soak example3|CONFIG.yaml FROM TO        RSS after FROM and after TO steps (make soak)
//
// MODE is how the session runs the graph: graph (the default) or eager
// numerics (tfgraph.Numerics), or xla (graph numerics with
// SessionConfig.XLA; the runner sets TF_XLA_FLAGS for it).
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/data/mnist"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
	_ "github.com/qat-go/qat/tfquiet"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "goworker:", err)
		fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
}

func run(args []string) error {
	// As qat's commands do (tfgraph.KeepFreedMemory); the benchmark's
	// "glibc's default malloc" rows set BENCH_DEFAULT_MALLOC=1 to measure
	// the same worker without it.
	if os.Getenv("BENCH_DEFAULT_MALLOC") != "1" {
		if err := tfgraph.KeepFreedMemory(); err != nil {
			return err
		}
	}
	if len(args) == 0 {
		return fmt.Errorf("usage: goworker example3 [MODE] | train CONFIG THREADS [MODE] | predict DIR BATCH THREADS [MODE] | export CONFIG DIR")
	}
	mode := func(n int) (tfgraph.SessionConfig, error) {
		if len(args) <= n {
			return tfgraph.SessionConfig{Numerics: tfgraph.GraphNumerics}, nil
		}
		if args[n] == "xla" {
			return tfgraph.SessionConfig{Numerics: tfgraph.GraphNumerics, XLA: true}, nil
		}
		num, err := tfgraph.ParseNumerics(args[n])
		return tfgraph.SessionConfig{Numerics: num}, err
	}
	switch {
	case args[0] == "example3" && len(args) <= 2:
		sc, err := mode(1)
		if err != nil {
			return err
		}
		tr, err := example3(sc)
		if err != nil {
			return err
		}
		defer tr.Close()
		return serve(func() error { _, err := tr.Step(); return err })
	case args[0] == "train" && (len(args) == 3 || len(args) == 4):
		threads, err := strconv.Atoi(args[2])
		if err != nil {
			return fmt.Errorf("threads %q: %w", args[2], err)
		}
		sc, err := mode(3)
		if err != nil {
			return err
		}
		tr, err := mnistTrainer(args[1], threads, sc)
		if err != nil {
			return err
		}
		defer tr.Close()
		return serve(func() error { _, err := tr.Step(); return err })
	case args[0] == "predict" && (len(args) == 4 || len(args) == 5):
		batch, err1 := strconv.Atoi(args[2])
		threads, err2 := strconv.Atoi(args[3])
		if err1 != nil || err2 != nil || batch < 1 {
			return fmt.Errorf("predict: batch %q and threads %q must be numbers", args[2], args[3])
		}
		sc, err := mode(4)
		if err != nil {
			return err
		}
		return predict(args[1], batch, threads, sc)
	case args[0] == "export" && len(args) == 3:
		return export(args[1], args[2])
	case args[0] == "soak" && len(args) == 4:
		from, err1 := strconv.Atoi(args[2])
		to, err2 := strconv.Atoi(args[3])
		if err1 != nil || err2 != nil || from < 1 || to <= from {
			return fmt.Errorf("soak: FROM %q and TO %q must be step counts, FROM < TO", args[2], args[3])
		}
		return soak(args[1], from, to)
	}
	return fmt.Errorf("unknown command %q", strings.Join(args, " "))
}

// example3 is `qat train --example 3`: 100 synthetic examples, the whole
// set every step, Adam(0.01), one thread, in sc's numerics.
func example3(sc tfgraph.SessionConfig) (*loop.Trainer, error) {
	cfg, err := models.ExampleConfig(3)
	if err != nil {
		return nil, err
	}
	ds, err := cfg.Dataset()
	if err != nil {
		return nil, err
	}
	lc := loop.DefaultConfig()
	sc.IntraOpThreads, sc.InterOpThreads = 1, tfgraph.InlineOps
	lc.Session = sc
	return loop.NewTrainer(models.Example3(), ds, nil, lc)
}

// mnistTrainer is what `qat train --config path --threads n` trains, with
// the inter-op pool as large as the intra-op one, in sc's numerics.
func mnistTrainer(path string, threads int, sc tfgraph.SessionConfig) (*loop.Trainer, error) {
	cfg, err := models.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	m, err := cfg.Model()
	if err != nil {
		return nil, err
	}
	train, _, err := mnist.Load()
	if err != nil {
		return nil, err
	}
	lc := loop.DefaultConfig()
	if lc.Optimizer, err = loop.NewOptimizer(cfg.Optimizer); err != nil {
		return nil, err
	}
	lc.Seed, lc.DataSeed, lc.BatchSize = cfg.Seed, cfg.Seed, cfg.BatchSize
	sc.IntraOpThreads, sc.InterOpThreads = threads, interOp(threads)
	lc.Session = sc
	return loop.NewTrainer(m, train, nil, lc)
}

// predict serves Predict on the first batch MNIST test images.
func predict(dir string, batch, threads int, sc tfgraph.SessionConfig) error {
	_, test, err := mnist.Load()
	if err != nil {
		return err
	}
	if batch > int(test.X.Shape[0]) {
		return fmt.Errorf("batch %d: the test set has %d images", batch, test.X.Shape[0])
	}
	row := len(test.X.Data) / int(test.X.Shape[0])
	x := data.Array{Shape: append([]int64{int64(batch)}, test.X.Shape[1:]...), Data: test.X.Data[:batch*row]}
	sc.IntraOpThreads, sc.InterOpThreads = threads, interOp(threads)
	sm, err := savedmodel.Load(dir, sc)
	if err != nil {
		return err
	}
	defer sm.Close()
	return serve(func() error { _, err := sm.Predict(x); return err })
}

// export trains a config's model 20 steps on MNIST (so the ranges are
// trained ones) and writes it as a SavedModel.
func export(config, dir string) error {
	cfg, err := models.LoadConfig(config)
	if err != nil {
		return err
	}
	m, err := cfg.Model()
	if err != nil {
		return err
	}
	tr, err := mnistTrainer(config, 1, tfgraph.SessionConfig{Numerics: tfgraph.GraphNumerics})
	if err != nil {
		return err
	}
	defer tr.Close()
	for range 20 {
		if _, err := tr.Step(); err != nil {
			return err
		}
	}
	w, err := tr.Weights()
	if err != nil {
		return err
	}
	r, err := tr.Ranges()
	if err != nil {
		return err
	}
	return savedmodel.Export(dir, m, w, r)
}

// soak trains a workload (example3, or a config's model on MNIST with one
// thread) for to steps in graph numerics and prints the process's resident
// memory after from and after to steps, and its peak.
func soak(what string, from, to int) error {
	sc := tfgraph.SessionConfig{Numerics: tfgraph.GraphNumerics}
	var tr *loop.Trainer
	var err error
	if what == "example3" {
		tr, err = example3(sc)
	} else {
		tr, err = mnistTrainer(what, 1, sc)
	}
	if err != nil {
		return err
	}
	defer tr.Close()
	var rssFrom, liveFrom int
	start := time.Now()
	for i := 1; i <= to; i++ {
		if _, err := tr.Step(); err != nil {
			return err
		}
		if i == from {
			if rssFrom, liveFrom, err = rss(); err != nil {
				return err
			}
		}
	}
	rssTo, liveTo, err := rss()
	if err != nil {
		return err
	}
	peak, err := statusKB("VmHWM")
	if err != nil {
		return err
	}
	mb := func(kb int) float64 { return float64(kb) / 1024 }
	pct := func(a, b int) float64 { return 100 * float64(b-a) / float64(a) }
	fmt.Printf("%s, step %d -> %d: RSS %.1f -> %.1f MB (%+.2f%%); after a GC %.1f -> %.1f MB (%+.2f%%); peak %.1f MB; %.0f s\n",
		what, from, to, mb(rssFrom), mb(rssTo), pct(rssFrom, rssTo), mb(liveFrom), mb(liveTo), pct(liveFrom, liveTo), mb(peak), time.Since(start).Seconds())
	return nil
}

// rss returns the resident set as it is, then after a garbage collection
// has run graft's tensor finalizers (which free TensorFlow's buffers) and
// returned free memory to the OS: the first depends on where the step
// falls in Go's GC cycle, the second is what the process holds.
func rss() (now, live int, err error) {
	if now, err = statusKB("VmRSS"); err != nil {
		return 0, 0, err
	}
	debug.FreeOSMemory()
	time.Sleep(100 * time.Millisecond) // finalizers run on their own goroutine
	debug.FreeOSMemory()
	live, err = statusKB("VmRSS")
	return now, live, err
}

// statusKB reads a kB field (VmRSS, VmHWM) of /proc/self/status.
func statusKB(field string) (int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("/proc/self/status has no %s", field)
}

// interOp is the inter-op setting for n threads: at one thread the ops
// run on the calling thread (tfgraph.InlineOps, as qat's defaults do), at
// more a pool of n lets independent ops overlap (as Python's pools of n).
func interOp(n int) int {
	if n == 1 {
		return tfgraph.InlineOps
	}
	return n
}

// serve runs one step, says ready, then answers the runner's requests.
func serve(step func() error) error {
	if err := step(); err != nil {
		return err
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd := strings.TrimSpace(in.Text())
		if cmd == "quit" {
			return nil
		}
		n, err := strconv.Atoi(strings.TrimPrefix(cmd, "run "))
		if !strings.HasPrefix(cmd, "run ") || err != nil || n < 1 {
			return fmt.Errorf("request %q: want run N or quit", cmd)
		}
		start := time.Now()
		for range n {
			if err := step(); err != nil {
				return err
			}
		}
		fmt.Printf("ms_per_step %.6g\n", float64(time.Since(start).Nanoseconds())/1e6/float64(n))
	}
	return in.Err()
}
