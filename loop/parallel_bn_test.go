package loop_test

import (
	"math"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
)

// A batch norm in data-parallel training normalizes with the global
// batch's moments. With one replica (on this process's CPU) the step is
// one process's bit for bit: Sum / N gives Mean's bits, and the gradient
// of the replicas' total loss is the one-process gradient. With two the
// first loss (the forward pass) is within 1e-5 relative.
func TestDataParallelBatchNorm(t *testing.T) {
	const cfg = "input: [6, 6, 1]\nlayers:\n" +
		"  - {type: conv2d, name: c, filters: 4, kernel: [3, 3], no_bias: true}\n" +
		"  - {type: batch_norm, name: bn, fused: false}\n" +
		"  - {type: relu, name: r}\n  - {type: flatten, name: f}\n  - {type: dense, name: d, units: 3}\n" +
		"scheme:\n  input_bits: 8\n  default: {weight_bits: 8, activation_bits: 8}\n"
	ds, err := data.Synthetic(64, 36, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	ds.X.Shape = []int64{64, 6, 6, 1}
	run := func(workers int) []float32 {
		lc := loop.DefaultConfig()
		lc.BatchSize, lc.Optimizer = 16, loop.SGD{LearningRate: 0.05}
		return steps(t, cpuTrainer(t, cfg, ds, workers, lc), 5)
	}
	single := run(0)
	for _, tt := range []struct {
		workers int
		steps   int     // compared
		within  float64 // relative; 0: bit for bit
	}{{1, 5, 0}, {2, 1, 1e-5}} {
		got := run(tt.workers)
		for i := range tt.steps {
			d := math.Abs(float64(got[i]-single[i])) / math.Abs(float64(single[i]))
			if d > tt.within || (tt.within == 0 && got[i] != single[i]) {
				t.Errorf("%d workers, step %d: loss %v, one process %v (%.3g relative)", tt.workers, i+1, got[i], single[i], d)
			}
		}
		t.Logf("%d workers: %v; one process %v", tt.workers, got, single)
	}
}
