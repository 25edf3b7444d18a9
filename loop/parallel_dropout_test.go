package loop_test

import (
	"math"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// TestDataParallelDropout trains an 8-bit MLP with dropout for 5 steps of
// 64 rows in one process and as 1, 2 and 4 replicas on this process's
// CPU. Each replica draws the global batch's mask and keeps its rows, so
// the forward pass is one process's: on one replica everything is bit for
// bit; on more the losses are too, and the weights differ only by the
// partial sums of their gradients (within 1e-6 of each tensor's largest
// magnitude). Without the dropout layer the losses differ, so the masks
// are in use.
func TestDataParallelDropout(t *testing.T) {
	const cfg = "input: [20]\nlayers:\n" +
		"  - {type: dense, name: d1, units: 32, activation: relu}\n" +
		"  - {type: dropout, name: drop, rate: 0.5}\n" +
		"  - {type: dense, name: d2, units: 4}\n" +
		"scheme:\n  input_bits: 8\n  default: {weight_bits: 8, activation_bits: 8}\n"
	ds, err := data.Synthetic(256, 20, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	run := func(cfg string, workers int) ([]float32, data.Weights) {
		c, err := models.ParseConfig(strings.NewReader(cfg))
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.Model()
		if err != nil {
			t.Fatal(err)
		}
		lc := loop.DefaultConfig()
		lc.BatchSize, lc.Seed = 64, 11
		if workers > 0 {
			cpu := "/device:CPU:0"
			lc.Parallel = &loop.DataParallel{Workers: make([]string, workers), Variables: []string{cpu}, Chief: cpu}
			for i := range lc.Parallel.Workers {
				lc.Parallel.Workers[i] = cpu
			}
		}
		tr, err := loop.NewTrainer(m, ds, nil, lc)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		var losses []float32
		for range 5 {
			l, err := tr.Step()
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, l)
		}
		w, err := tr.Weights()
		if err != nil {
			t.Fatal(err)
		}
		return losses, w
	}
	single, sw := run(cfg, 0)
	plain, _ := run(strings.Replace(cfg, "  - {type: dropout, name: drop, rate: 0.5}\n", "", 1), 0)
	if plain[0] == single[0] {
		t.Errorf("the first loss is %v with dropout and without", plain[0])
	}
	for _, workers := range []int{1, 2, 4} {
		losses, w := run(cfg, workers)
		for i := range single {
			if losses[i] != single[i] {
				t.Errorf("%d replicas, step %d: loss %v, one process %v", workers, i+1, losses[i], single[i])
			}
		}
		for k, one := range sw {
			var big, d float64
			for i, v := range one.Data {
				big = math.Max(big, math.Abs(float64(v)))
				d = math.Max(d, math.Abs(float64(v-w[k].Data[i])))
			}
			if workers == 1 && d != 0 || d > 1e-6*big {
				t.Errorf("%d replicas: %s differs by %.2g of its largest magnitude", workers, k, d/big)
			}
		}
	}
}
