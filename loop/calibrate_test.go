package loop_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

// minMax returns min(0, min(v)) and max(0, max(v)).
func minMax(v []float32) (lo, hi float32) {
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// channelAbsMax returns, for a kernel whose last axis has n channels, the
// largest |value| of each channel.
func channelAbsMax(k data.Array) []float32 {
	n := int(k.Shape[len(k.Shape)-1])
	out := make([]float32, n)
	for i, v := range k.Data {
		out[i%n] = max(out[i%n], float32(math.Abs(float64(v))))
	}
	return out
}

// checkSymmetricKernelRange checks that ranges[name_min] and [name_max] are
// -absMax and +absMax exactly, channel by channel.
func checkSymmetricKernelRange(t *testing.T, ranges map[string][]float32, name string, absMax []float32) {
	t.Helper()
	lo, hi := ranges[name+"_min"], ranges[name+"_max"]
	if len(lo) != len(absMax) || len(hi) != len(absMax) {
		t.Fatalf("%s_min/_max have %d/%d values, want %d (one per output channel)", name, len(lo), len(hi), len(absMax))
	}
	for c, m := range absMax {
		if lo[c] != -m || hi[c] != m {
			t.Errorf("%s channel %d: range [%v, %v], want [%v, %v] (symmetric, narrow: -max|k|, max|k|)", name, c, lo[c], hi[c], -m, m)
		}
	}
}

// TestCalibrationInit shows what loop.Calibrate measures for SmallCNN with
// tfmot's 8-bit scheme on a batch of 64 MNIST images, and that a trainer
// starts from it: the input range is [min(0, min x), max(0, max x)], the
// output range is that of the float model's logits, each kernel range is
// per channel [-max|k|, max|k|] of the initial kernel; Trainer.Ranges
// before any step equals the calibration exactly; several batches give the
// smallest min and largest max of the single batches; and QAT from the
// calibrated ranges trains with finite losses.
func TestCalibrationInit(t *testing.T) {
	train, _ := cachedMNIST(t)
	m := models.SmallCNN(qat.Default8Bit())
	init, err := m.InitialWeights(nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 64
	ds, err := train.Slice(0, 10*batch)
	if err != nil {
		t.Fatal(err)
	}
	bt, err := data.NewBatcher(ds, batch, 9)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := bt.Next()
	x2, _ := bt.Next()
	ranges, err := loop.Calibrate(m, []data.Array{x}, init, 5, oneThread)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(ranges))
	for n := range ranges {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("calibration ranges: %v", names)

	t.Run("input", func(t *testing.T) {
		lo, hi := minMax(x.Data)
		got := [2][]float32{ranges["quantize_layer/quantize_layer_min"], ranges["quantize_layer/quantize_layer_max"]}
		if len(got[0]) != 1 || len(got[1]) != 1 || got[0][0] != lo || got[1][0] != hi {
			t.Fatalf("input range %v %v, want [%v] [%v]", got[0], got[1], lo, hi)
		}
		t.Logf("input range [%v, %v]", lo, hi)
	})

	t.Run("logits", func(t *testing.T) {
		ev, err := loop.NewEvaluator(models.SmallCNN(nil), init, nil, oneThread)
		if err != nil {
			t.Fatal(err)
		}
		logits, err := ev.Predict(x)
		ev.Close()
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := minMax(logits.Data)
		gotLo, gotHi := ranges["d/post_activation_min"], ranges["d/post_activation_max"]
		if len(gotLo) != 1 || len(gotHi) != 1 {
			t.Fatalf("d/post_activation_min/_max have %d/%d values, want 1", len(gotLo), len(gotHi))
		}
		dLo, dHi := relDiff(gotLo[0], lo), relDiff(gotHi[0], hi)
		t.Logf("logit range: calibrated [%v, %v], float evaluator [%v, %v]; relative differences %.3g, %.3g", gotLo[0], gotHi[0], lo, hi, dLo, dHi)
		if dLo > 1e-6 || dHi > 1e-6 {
			t.Errorf("calibrated logit range [%v, %v], float model's [%v, %v]", gotLo[0], gotHi[0], lo, hi)
		}
	})

	t.Run("kernels", func(t *testing.T) {
		for _, c := range []struct {
			layer    string
			channels int
		}{{"c1", 8}, {"c2", 16}, {"d", 1}} {
			k := init[c.layer+"/kernel"]
			absMax := channelAbsMax(k)
			if c.channels == 1 { // Dense: per tensor
				m := float32(0)
				for _, v := range absMax {
					m = max(m, v)
				}
				absMax = []float32{m}
			}
			if len(absMax) != c.channels {
				t.Fatalf("%s/kernel has %d channels, want %d", c.layer, len(absMax), c.channels)
			}
			checkSymmetricKernelRange(t, ranges, c.layer+"/kernel", absMax)
		}
		t.Logf("c1/kernel_min %v", ranges["c1/kernel_min"])
	})

	t.Run("trainer starts there", func(t *testing.T) {
		cfg := loop.DefaultConfig()
		cfg.BatchSize = batch
		cfg.DataSeed = 4
		cfg.Session = oneThread
		cfg.Ranges = ranges
		tr, err := loop.NewTrainer(m, ds, init, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		got, err := tr.Ranges()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ranges) {
			t.Errorf("trainer has %d range variables, calibration %d", len(got), len(ranges))
		}
		for n, want := range ranges {
			g, ok := got[n]
			if !ok || len(g.Data) != len(want) {
				t.Errorf("trainer range %s: %v, calibration %v", n, g.Data, want)
				continue
			}
			for i := range want {
				if math.Float32bits(g.Data[i]) != math.Float32bits(want[i]) {
					t.Errorf("trainer range %s[%d] = %v before any step, calibration %v", n, i, g.Data[i], want[i])
				}
			}
		}
		var losses []float32
		for i := 0; i < 10; i++ {
			l, err := tr.Step()
			if err != nil {
				t.Fatal(err)
			}
			if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
				t.Fatalf("step %d: loss %v", i+1, l)
			}
			losses = append(losses, l)
		}
		t.Logf("QAT from calibrated ranges, 10 steps: loss %.4f -> %.4f", losses[0], losses[9])
	})

	t.Run("several batches", func(t *testing.T) {
		r2, err := loop.Calibrate(m, []data.Array{x2}, init, 5, oneThread)
		if err != nil {
			t.Fatal(err)
		}
		both, err := loop.Calibrate(m, []data.Array{x, x2}, init, 5, oneThread)
		if err != nil {
			t.Fatal(err)
		}
		differ := 0
		for n, a := range ranges {
			b, ab := r2[n], both[n]
			if len(b) != len(a) || len(ab) != len(a) {
				t.Fatalf("%s: %d, %d and %d values", n, len(a), len(b), len(ab))
			}
			isMin := n[len(n)-4:] == "_min"
			for i := range a {
				want := max(a[i], b[i])
				if isMin {
					want = min(a[i], b[i])
				}
				if ab[i] != want {
					t.Errorf("%s[%d]: two batches give %v, single batches %v and %v", n, i, ab[i], a[i], b[i])
				}
				if a[i] != b[i] {
					differ++
				}
			}
		}
		if differ == 0 {
			t.Error("the two batches give identical ranges everywhere; the test shows nothing")
		}
		t.Logf("two batches: %d range values differ between the batches; d/post_activation [%v, %v] + [%v, %v] -> [%v, %v]",
			differ, ranges["d/post_activation_min"], ranges["d/post_activation_max"], r2["d/post_activation_min"], r2["d/post_activation_max"],
			both["d/post_activation_min"], both["d/post_activation_max"])
	})
}

// TestDepthwisePerChannelRanges shows that a DepthwiseConv2D with 3 input
// channels and depth multiplier 2 gets one kernel range per output channel
// (6, where tfmot would size them by the multiplier, 2), that output
// channel c = i*2 + m holds [-max|k[:, :, i, m]|, max|k[:, :, i, m]|], and
// that the model trains (after one step the LastValue ranges are those of
// the kernel the step read).
func TestDepthwisePerChannelRanges(t *testing.T) {
	const (
		n, in, mult = 16, 3, 2
		classes     = 10
	)
	m := models.Model{Input: []int64{8, 8, in}, Scheme: qat.Default8Bit(), Layers: []layers.Layer{
		layers.DepthwiseConv2D{Name: "dw", Multiplier: mult, Kernel: [2]int{3, 3}, Activation: "relu"},
		layers.Flatten{Name: "f"},
		layers.Dense{Name: "d", Units: classes},
	}}
	init, err := m.InitialWeights(nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	x := data.Array{Shape: []int64{n, 8, 8, in}, Data: make([]float32, n*8*8*in)}
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	y := data.Array{Shape: []int64{n, classes}, Data: make([]float32, n*classes)}
	for i := 0; i < n; i++ {
		y.Data[i*classes+rng.IntN(classes)] = 1
	}
	ranges, err := loop.Calibrate(m, []data.Array{x}, init, 3, oneThread)
	if err != nil {
		t.Fatal(err)
	}
	k := init["dw/depthwise_kernel"]
	if want := []int64{3, 3, in, mult}; len(k.Shape) != 4 || k.Shape[0] != 3 || k.Shape[1] != 3 || k.Shape[2] != in || k.Shape[3] != mult {
		t.Fatalf("dw/depthwise_kernel has shape %v, want %v", k.Shape, want)
	}
	// Output channel i*mult + j of TF's depthwise convolution is input
	// channel i's j-th filter, k[h, w, i, j] at ((h*3+w)*in+i)*mult+j.
	absMax := make([]float32, in*mult)
	for h := 0; h < 3; h++ {
		for w := 0; w < 3; w++ {
			for i := 0; i < in; i++ {
				for j := 0; j < mult; j++ {
					c := i*mult + j
					absMax[c] = max(absMax[c], float32(math.Abs(float64(k.Data[((h*3+w)*in+i)*mult+j]))))
				}
			}
		}
	}
	checkSymmetricKernelRange(t, ranges, "dw/kernel", absMax)
	t.Logf("dw/kernel_min (calibrated, %d values): %v", len(ranges["dw/kernel_min"]), ranges["dw/kernel_min"])

	tr, err := loop.NewTrainer(m, data.Dataset{X: x, Y: y}, init, loop.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	loss, err := tr.Step()
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Ranges()
	if err != nil {
		t.Fatal(err)
	}
	trained := map[string][]float32{"dw/kernel_min": got["dw/kernel_min"].Data, "dw/kernel_max": got["dw/kernel_max"].Data}
	checkSymmetricKernelRange(t, trained, "dw/kernel", absMax)
	t.Logf("one training step: loss %.4f; dw/kernel_max after it %v", loss, trained["dw/kernel_max"])
}
