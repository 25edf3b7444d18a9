// Command goworker is the Go contender of `make bench` (bench/main.go): a
// long-lived process that sets up one workload with the library, runs its
// first step, says "ready" and then answers "run N" with "ms_per_step X"
// (the protocol of internal/bench). It also exports the SavedModel the
// inference workloads load.
//
//	goworker example3                          the article's Example 3, full batch, 1 thread
//	goworker train CONFIG.yaml THREADS         a config's model on MNIST, its batch size
//	goworker predict SAVED_MODEL BATCH THREADS savedmodel.Load + Predict on BATCH test images
//	goworker export CONFIG.yaml DIR            train 20 steps, savedmodel.Export to DIR
package main

import (
	"bufio"
	"fmt"
	"os"
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
	if len(args) == 0 {
		return fmt.Errorf("usage: goworker example3 | train CONFIG THREADS | predict DIR BATCH THREADS | export CONFIG DIR")
	}
	switch {
	case args[0] == "example3" && len(args) == 1:
		tr, err := example3()
		if err != nil {
			return err
		}
		defer tr.Close()
		return serve(func() error { _, err := tr.Step(); return err })
	case args[0] == "train" && len(args) == 3:
		threads, err := strconv.Atoi(args[2])
		if err != nil {
			return fmt.Errorf("threads %q: %w", args[2], err)
		}
		tr, err := mnistTrainer(args[1], threads)
		if err != nil {
			return err
		}
		defer tr.Close()
		return serve(func() error { _, err := tr.Step(); return err })
	case args[0] == "predict" && len(args) == 4:
		batch, err1 := strconv.Atoi(args[2])
		threads, err2 := strconv.Atoi(args[3])
		if err1 != nil || err2 != nil || batch < 1 {
			return fmt.Errorf("predict: batch %q and threads %q must be numbers", args[2], args[3])
		}
		return predict(args[1], batch, threads)
	case args[0] == "export" && len(args) == 3:
		return export(args[1], args[2])
	}
	return fmt.Errorf("unknown command %q", strings.Join(args, " "))
}

// example3 is `qat train --example 3`: 100 synthetic examples, the whole
// set every step, Adam(0.01), one thread.
func example3() (*loop.Trainer, error) {
	cfg, err := models.ExampleConfig(3)
	if err != nil {
		return nil, err
	}
	ds, err := cfg.Dataset()
	if err != nil {
		return nil, err
	}
	return loop.NewTrainer(models.Example3(), ds, nil, loop.DefaultConfig())
}

// mnistTrainer is what `qat train --config path --threads n` trains, with
// the inter-op pool as large as the intra-op one.
func mnistTrainer(path string, threads int) (*loop.Trainer, error) {
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
	o := cfg.Optimizer
	lc.Adam = loop.Adam{LearningRate: o.LearningRate, Beta1: o.Beta1, Beta2: o.Beta2, Epsilon: o.Epsilon, Fused: o.Fused}
	lc.Seed, lc.DataSeed, lc.BatchSize = cfg.Seed, cfg.Seed, cfg.BatchSize
	lc.Session = tfgraph.SessionConfig{IntraOpThreads: threads, InterOpThreads: threads}
	return loop.NewTrainer(m, train, nil, lc)
}

// predict serves Predict on the first batch MNIST test images.
func predict(dir string, batch, threads int) error {
	_, test, err := mnist.Load()
	if err != nil {
		return err
	}
	if batch > int(test.X.Shape[0]) {
		return fmt.Errorf("batch %d: the test set has %d images", batch, test.X.Shape[0])
	}
	row := len(test.X.Data) / int(test.X.Shape[0])
	x := data.Array{Shape: append([]int64{int64(batch)}, test.X.Shape[1:]...), Data: test.X.Data[:batch*row]}
	sm, err := savedmodel.Load(dir, tfgraph.SessionConfig{IntraOpThreads: threads, InterOpThreads: threads})
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
	tr, err := mnistTrainer(config, 1)
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
