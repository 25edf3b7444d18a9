// Command layerscale measures how graph building grows with depth: it
// builds the training graph of N dense(4) ReLU layers with tfmot's default
// 8-bit scheme, runs two steps and prints the time to build (NewTrainer:
// graph, session, variable initialisation), the first step (TensorFlow
// prepares its executor), the second step, and the process's peak RSS.
// RELIABILITY.md quotes it:
//
//	. .deps/env.sh; go run ./internal/layerscale 100 1000
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: layerscale LAYERS...")
		os.Exit(2)
	}
	for _, arg := range os.Args[1:] {
		n, err := strconv.Atoi(arg)
		if err == nil && n < 1 {
			err = fmt.Errorf("want >= 1")
		}
		if err == nil {
			err = measure(n)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "layerscale %s: %v\n", arg, err)
			os.Exit(1)
		}
	}
}

func measure(n int) error {
	var b strings.Builder
	b.WriteString("inputs: 4\nsteps: 2\nbatch_size: 8\ndata: {examples: 64}\n" +
		"scheme: {default: {weight_bits: 8, activation_bits: 8}}\nlayers:\n")
	for range n {
		b.WriteString("  - {type: dense, units: 4, activation: relu}\n")
	}
	b.WriteString("  - {type: dense, units: 2}\n")
	cfg, err := models.ParseConfig(strings.NewReader(b.String()))
	if err != nil {
		return err
	}
	m, err := cfg.Model()
	if err != nil {
		return err
	}
	data, err := cfg.Dataset()
	if err != nil {
		return err
	}
	lc := loop.DefaultConfig()
	lc.BatchSize = cfg.BatchSize
	t0 := time.Now()
	tr, err := loop.NewTrainer(m, data, nil, lc)
	if err != nil {
		return err
	}
	defer tr.Close()
	t1 := time.Now()
	if _, err := tr.Step(); err != nil {
		return err
	}
	t2 := time.Now()
	if _, err := tr.Step(); err != nil {
		return err
	}
	t3 := time.Now()
	fmt.Printf("%d layers: build %.2f s, first step %.2f s, second step %.1f ms, peak RSS %s\n",
		n, t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), t3.Sub(t2).Seconds()*1e3, peakRSS())
	return nil
}

// peakRSS is VmHWM from /proc/self/status, e.g. "1660140 kB".
func peakRSS() string {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
