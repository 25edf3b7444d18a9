package loop_test

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/data/mnist"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
)

// oneThread is the reproducible session the tests in this file and in
// calibrate_test.go, schedule_test.go and learnable_test.go run in.
var oneThread = tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1}

var (
	mnistOnce             sync.Once
	mnistTrain, mnistTest data.Dataset
	mnistErr              error
)

// cachedMNIST loads MNIST once for the whole test binary.
func cachedMNIST(t *testing.T) (train, test data.Dataset) {
	t.Helper()
	mnistOnce.Do(func() { mnistTrain, mnistTest, mnistErr = mnist.Load() })
	if mnistErr != nil {
		t.Fatal(mnistErr)
	}
	return mnistTrain, mnistTest
}

// closeEnough is |a-b| <= tol * max(1, |a|, |b|): relative for large
// values, absolute below 1.
func closeEnough(a, b float32, tol float64) bool {
	fa, fb := float64(a), float64(b)
	return math.Abs(fa-fb) <= tol*math.Max(1, math.Max(math.Abs(fa), math.Abs(fb)))
}

// foldWeights returns initial weights for MNISTCNNBN whose batch norms
// have non-trivial parameters and moving statistics (drawn from a PCG), so
// that folding is actually exercised: with gamma=1, beta=0, mean=0, var=1
// the fold would be nearly the identity.
func foldWeights(t *testing.T, seed uint64) data.Weights {
	t.Helper()
	w, err := models.MNISTCNNBN(nil, false).InitialWeights(nil, seed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 77))
	for _, bn := range []string{"bn1", "bn2"} {
		for _, v := range []struct {
			name   string
			lo, hi float64
		}{
			{"gamma", 0.5, 1.5},
			{"beta", -0.5, 0.5},
			{"moving_mean", -0.3, 0.3},
			{"moving_variance", 0.5, 2},
		} {
			a, ok := w[bn+"/"+v.name]
			if !ok {
				t.Fatalf("MNISTCNNBN has no variable %s/%s", bn, v.name)
			}
			ds := make([]float32, len(a.Data))
			for i := range ds {
				ds[i] = float32(v.lo + (v.hi-v.lo)*rng.Float64())
			}
			w[bn+"/"+v.name] = data.Array{Shape: a.Shape, Data: ds}
		}
	}
	return w
}

// TestFoldedConvBNMatchesUnfolded shows that building each Conv2D+BatchNorm
// pair of MNISTCNNBN as one FoldedConvBN changes nothing in float (against
// the non-fused batch norm, whose tf.nn.moments statistics the fold uses;
// Keras's fused kernel computes them ~10x less accurately): with the
// same (non-trivial) weights and batch-norm statistics, the inference
// outputs on 256 MNIST test images agree to 1e-5 (relative, or absolute
// below 1), and in training mode the first step's loss (computed with the
// batch's statistics, before any update) and the moving statistics it
// writes agree to 1e-5 too. It also shows that the folded model with
// tfmot's 8-bit scheme builds and trains.
func TestFoldedConvBNMatchesUnfolded(t *testing.T) {
	const tol = 1e-5
	train, test := cachedMNIST(t)
	w := foldWeights(t, 21)
	unfolded, folded := models.MNISTCNNBN(nil, false), models.MNISTCNNBN(nil, true)
	for i, l := range unfolded.Layers {
		if bn, ok := l.(layers.BatchNorm); ok {
			bn.NonFused = true
			unfolded.Layers[i] = bn
		}
	}

	t.Run("inference", func(t *testing.T) {
		sub, err := test.Slice(0, 256)
		if err != nil {
			t.Fatal(err)
		}
		var out [2]data.Array
		for i, m := range []models.Model{unfolded, folded} {
			ev, err := loop.NewEvaluator(m, w, nil, oneThread)
			if err != nil {
				t.Fatal(err)
			}
			out[i], err = ev.Predict(sub.X)
			ev.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(out[0].Data) != 256*10 || len(out[1].Data) != len(out[0].Data) {
			t.Fatalf("outputs have %d and %d values, want %d", len(out[0].Data), len(out[1].Data), 256*10)
		}
		worst, scale := 0.0, 0.0
		bad := 0
		for i, a := range out[0].Data {
			b := out[1].Data[i]
			worst = math.Max(worst, math.Abs(float64(a)-float64(b)))
			scale = math.Max(scale, math.Abs(float64(a)))
			if !closeEnough(a, b, tol) {
				if bad++; bad <= 5 {
					t.Errorf("output %d (example %d, class %d): unfolded %v, folded %v", i, i/10, i%10, a, b)
				}
			}
		}
		t.Logf("inference, 256 test images: max |unfolded - folded| = %.3g (largest |logit| %.3g); %d of %d outside tolerance",
			worst, scale, bad, len(out[0].Data))
	})

	t.Run("training", func(t *testing.T) {
		const batch = 64
		ds, err := train.Slice(0, 4*batch)
		if err != nil {
			t.Fatal(err)
		}
		bt, err := data.NewBatcher(ds, batch, 5)
		if err != nil {
			t.Fatal(err)
		}
		x, y := bt.Next()
		cfg := loop.DefaultConfig()
		cfg.BatchSize = batch
		cfg.Session = oneThread
		var loss [2]float32
		var after [2]data.Weights
		for i, m := range []models.Model{unfolded, folded} {
			tr, err := loop.NewTrainer(m, ds, w, cfg)
			if err != nil {
				t.Fatal(err)
			}
			loss[i], err = tr.StepOn(x, y)
			if err == nil {
				after[i], err = tr.Weights()
			}
			tr.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		rel := relDiff(loss[0], loss[1])
		t.Logf("training, first step (batch statistics): loss unfolded %.7f, folded %.7f, relative difference %.3g", loss[0], loss[1], rel)
		if rel > tol {
			t.Errorf("first-step loss: unfolded %v, folded %v (relative difference %.3g > %g)", loss[0], loss[1], rel, tol)
		}
		// The moving statistics after one step mix in the batch's, which
		// both models compute from the float convolution.
		for _, name := range []string{"bn1/moving_mean", "bn1/moving_variance", "bn2/moving_mean", "bn2/moving_variance"} {
			a, b := after[0][name], after[1][name]
			if len(a.Data) == 0 || len(a.Data) != len(b.Data) {
				t.Fatalf("%s: %d values unfolded, %d folded", name, len(a.Data), len(b.Data))
			}
			worst := 0.0
			for i := range a.Data {
				worst = math.Max(worst, math.Abs(float64(a.Data[i])-float64(b.Data[i])))
				if !closeEnough(a.Data[i], b.Data[i], tol) {
					t.Errorf("%s[%d] after one step: unfolded %v, folded %v", name, i, a.Data[i], b.Data[i])
					break
				}
			}
			t.Logf("%s after one step: max |unfolded - folded| = %.3g", name, worst)
		}
	})

	t.Run("quantized", func(t *testing.T) {
		ds, err := train.Slice(0, 256)
		if err != nil {
			t.Fatal(err)
		}
		cfg := loop.DefaultConfig()
		cfg.BatchSize = 64
		cfg.Session = oneThread
		tr, err := loop.NewTrainer(models.MNISTCNNBN(qat.Default8Bit(), true), ds, w, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		var losses []float32
		for i := 0; i < 3; i++ {
			l, err := tr.Step()
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, l)
		}
		ranges, err := tr.Ranges()
		if err != nil {
			t.Fatal(err)
		}
		if k := ranges["c1/kernel_min"]; len(k.Data) != 32 {
			t.Errorf("folded c1/kernel_min has %d values, want 32 (per channel)", len(k.Data))
		}
		t.Logf("folded MNISTCNNBN with Default8Bit: 3 steps, losses %v, %d range variables", losses, len(ranges))
	})
}
