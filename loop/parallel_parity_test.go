package loop_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
)

// TestDataParallelParity trains 8-bit MLPs for 5 steps of 64 rows in one
// process and as 1, 2 and 4 replicas on this process's CPU, where the
// forward pass is one process's: on one replica everything is bit for
// bit; on more the losses are too, and the weights differ only by the
// partial sums of their gradients (within 1e-6 of each tensor's largest
// magnitude).
//   - dropout: each replica draws the global batch's mask and keeps its
//     rows (without the layer the losses differ, so the masks are in use);
//   - learnable ranges: trained by gradient like weights, the replicas'
//     gradients added (the inputs are scaled so that d1's activations go
//     past the initial range, whose maximum then moves).
func TestDataParallelParity(t *testing.T) {
	const mlp = "input: [20]\nlayers:\n  - {type: dense, name: d1, units: 32, activation: relu}\n"
	const out = "  - {type: dense, name: d2, units: 4}\n"
	const scheme = "scheme:\n  input_bits: 8\n  default: {weight_bits: 8, activation_bits: 8%s}\n"
	const dropout = "  - {type: dropout, name: drop, rate: 0.5}\n"
	ds, err := data.Synthetic(256, 20, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ds.X.Data { // d1's activations go past the initial ranges' 6
		ds.X.Data[i] *= 8
	}
	run := func(cfg string, workers int) ([]float32, data.Weights) {
		lc := loop.DefaultConfig()
		lc.BatchSize, lc.Seed = 64, 11
		tr := cpuTrainer(t, cfg, ds, workers, lc)
		return steps(t, tr, 5), snapshot(t, tr)
	}
	for _, tt := range []struct {
		name, config, without string // without: the config without the feature, whose first loss differs
	}{
		{"dropout", mlp + dropout + out + fmt.Sprintf(scheme, ""), mlp + out + fmt.Sprintf(scheme, "")},
		{"learnable ranges", mlp + out + fmt.Sprintf(scheme, ", learnable_ranges: true"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			single, sw := run(tt.config, 0)
			if moved := sw["d1/post_activation_max"].Data[0]; tt.name == "learnable ranges" && moved == 6 {
				t.Errorf("d1/post_activation_max is still 6 after 5 steps")
			}
			if tt.without != "" {
				if plain, _ := run(tt.without, 0); plain[0] == single[0] {
					t.Errorf("the first loss is %v with %s and without", plain[0], tt.name)
				}
			}
			for _, workers := range []int{1, 2, 4} {
				losses, w := run(tt.config, workers)
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
		})
	}
}
