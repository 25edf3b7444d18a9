package loop_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
)

// bnTrainer is cpuTrainer with batch 64 and SGD.
func bnTrainer(t *testing.T, cfg string, ds data.Dataset, workers int) *loop.Trainer {
	t.Helper()
	lc := loop.DefaultConfig()
	lc.BatchSize, lc.Optimizer = 64, loop.SGD{LearningRate: 0.05}
	return cpuTrainer(t, cfg, ds, workers, lc)
}

// skewed is 64 rows of 4x4x2 inputs whose second half is shifted by 3 and
// scaled by 2, so that the moments of either half are far from the whole
// batch's.
func skewed(t *testing.T) data.Dataset {
	ds, err := data.Synthetic(64, 32, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	ds.X.Shape = []int64{64, 4, 4, 2}
	half := len(ds.X.Data) / 2
	for i := half; i < len(ds.X.Data); i++ {
		ds.X.Data[i] = 2*ds.X.Data[i] + 3
	}
	return ds
}

// moments64 returns the per-channel mean and population variance, in
// float64, of rows [from, to) of x (channels last).
func moments64(x data.Array, from, to int) (mean, variance []float64) {
	c := int(x.Shape[len(x.Shape)-1])
	per := len(x.Data) / int(x.Shape[0])
	mean, variance = make([]float64, c), make([]float64, c)
	n := float64((to - from) * per / c)
	for i, v := range x.Data[from*per : to*per] {
		mean[i%c] += float64(v)
	}
	for k := range mean {
		mean[k] /= n
	}
	for i, v := range x.Data[from*per : to*per] {
		d := float64(v) - mean[i%c]
		variance[i%c] += d * d
	}
	for k := range variance {
		variance[k] /= n
	}
	return mean, variance
}

// TestDataParallelBatchNormMoments checks that a batch norm in a
// data-parallel step takes the moments of the global batch, not of a
// replica's shard: after one step with momentum 0.5 from the initial
// moving statistics (0 and 1), moving_mean is half the batch mean and
// moving_variance is (1 + batch variance) / 2, Bessel-corrected on the
// fused path as Keras's kernel does. On a batch whose halves differ
// (skewed), both replicas' moments are compared with float64 moments of
// the whole batch and must be as close as one process's (within 1e-6
// relative); the halves' own moments are logged, far off.
func TestDataParallelBatchNormMoments(t *testing.T) {
	ds := skewed(t)
	mean, variance := moments64(ds.X, 0, 64)
	for h := range 2 {
		m, v := moments64(ds.X, 32*h, 32*(h+1))
		t.Logf("rows %d-%d alone: mean %.4g, variance %.4g (whole batch %.4g, %.4g)", 32*h, 32*h+31, m, v, mean, variance)
	}
	for _, fused := range []bool{false, true} {
		cfg := fmt.Sprintf("input: [4, 4, 2]\nlayers:\n"+
			"  - {type: batch_norm, name: bn, fused: %v, momentum: 0.5}\n"+
			"  - {type: flatten, name: f}\n  - {type: dense, name: d, units: 3}\n", fused)
		bessel := 1.0
		if fused {
			n := float64(len(ds.X.Data) / 2)
			bessel = n / (n - 1)
		}
		for _, workers := range []int{0, 2} {
			name := fmt.Sprintf("fused=%v/workers=%d", fused, workers)
			tr := bnTrainer(t, cfg, ds, workers)
			if _, err := tr.StepOn(ds.X, ds.Y); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			w, err := tr.Weights()
			if err != nil {
				t.Fatal(err)
			}
			for k := range mean {
				gotMean := 2 * float64(w["bn/moving_mean"].Data[k])
				gotVar := 2*float64(w["bn/moving_variance"].Data[k]) - 1
				dm := math.Abs(gotMean-mean[k]) / math.Sqrt(variance[k])
				dv := math.Abs(gotVar-variance[k]*bessel) / (variance[k] * bessel)
				t.Logf("%s: channel %d: mean off by %.2g of a standard deviation, variance by %.2g relative", name, k, dm, dv)
				if dm > 1e-6 || dv > 1e-6 {
					t.Errorf("%s: channel %d: moments %.7g, %.7g; the batch's (float64) %.7g, %.7g", name, k, gotMean, gotVar, mean[k], variance[k]*bessel)
				}
			}
		}
	}
}

// TestDataParallelBatchNormSteps trains models with batch norms on the
// skewed batch for 5 steps in one process, as 1 replica and as 2. One
// replica is one process bit for bit, or within 1e-5 where one process
// takes Keras's fused kernel (its own sums). On two, where nothing after a batch
// norm has a kink, every weight stays within 1e-5 of its tensor's largest
// magnitude. After a ReLU or a fake-quant, a value that the float32
// moments leave within rounding of a kink may fall on its other side in
// one of the two runs, and that element's gradient then differs
// (cluster/DATA_PARALLEL.md): there the losses are compared, within 1e-5
// relative. A batch norm's beta followed only by linear layers and
// another batch norm has a true gradient of 0 (the second removes any
// shift per channel), so its computed one is rounding noise in both runs
// and is not compared.
func TestDataParallelBatchNormSteps(t *testing.T) {
	ds := skewed(t)
	const conv = "  - {type: conv2d, name: c, filters: 4, kernel: [2, 2], no_bias: true}\n"
	const tail = "  - {type: flatten, name: f}\n  - {type: dense, name: d, units: 3}\n"
	const folded = "fold_batch_norm: true\n"
	const qat8 = "scheme:\n  input_bits: 8\n  default: {weight_bits: 8, activation_bits: 8}\n  schedule: {freeze_bn_after: 3}\n"
	for _, tt := range []struct {
		name, head, layers string
		weights            bool   // compared on 2 replicas, else the losses
		noise              string // a weight whose true gradient is 0, not compared
		fused              bool   // one process takes the fused kernel: 1 replica within 1e-5
	}{
		{"batch norm", "", "  - {type: batch_norm, name: bn, fused: false}\n", true, "", false},
		{"conv, fused batch norm", "", conv + "  - {type: batch_norm, name: bn}\n", true, "", true},
		{"conv, batch norm, conv, batch norm", "", conv + "  - {type: batch_norm, name: bn, fused: false}\n" +
			"  - {type: conv2d, name: c2, filters: 4, kernel: [2, 2], no_bias: true}\n  - {type: batch_norm, name: bn2, fused: false}\n", true, "bn/beta", false},
		{"conv, fused batch norm, relu", "", conv + "  - {type: batch_norm, name: bn}\n  - {type: relu, name: r}\n", false, "", true},
		{"conv folded with batch norm", folded, conv + "  - {type: batch_norm, name: bn}\n", true, "", false},
		{"conv folded with batch norm, 8-bit", folded + qat8, conv + "  - {type: batch_norm, name: bn}\n  - {type: relu, name: r}\n", false, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.head + "input: [4, 4, 2]\nlayers:\n" + tt.layers + tail
			var losses [3][]float32
			var weights [3]data.Weights
			for workers := range 3 {
				tr := bnTrainer(t, cfg, ds, workers)
				for range 5 {
					l, err := tr.StepOn(ds.X, ds.Y)
					if err != nil {
						t.Fatal(err)
					}
					losses[workers] = append(losses[workers], l)
				}
				w, err := tr.Weights()
				if err != nil {
					t.Fatal(err)
				}
				weights[workers] = w
			}
			for s := range losses[0] {
				if d := math.Abs(float64(losses[1][s]-losses[0][s])) / math.Abs(float64(losses[0][s])); d > 1e-5 || !tt.fused && d != 0 {
					t.Errorf("step %d: loss %v on 1 replica, %v in one process", s+1, losses[1][s], losses[0][s])
				}
				d := math.Abs(float64(losses[2][s]-losses[0][s])) / math.Abs(float64(losses[0][s]))
				if d > 1e-5 {
					t.Errorf("step %d: loss %v on 2 replicas, %v in one process (%.2g relative)", s+1, losses[2][s], losses[0][s], d)
				}
			}
			for k, one := range weights[0] {
				for workers := 1; workers <= 2; workers++ {
					var big, d float64
					for i, v := range one.Data {
						big = math.Max(big, math.Abs(float64(v)))
						d = math.Max(d, math.Abs(float64(v-weights[workers][k].Data[i])))
					}
					t.Logf("%s differs by %.2g of its largest magnitude on %d replicas", k, d/big, workers)
					exact := workers == 1 && !tt.fused
					if k != tt.noise && (exact && d != 0 || (tt.weights || workers == 1) && d > 1e-5*big) {
						t.Errorf("%s differs by %.2g of its largest magnitude on %d replicas", k, d/big, workers)
					}
				}
			}
		})
	}
}
