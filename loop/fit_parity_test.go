package loop_test

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// fitMLP is a float Dense(16, relu) -> Dense(3) MLP on 8 inputs.
const fitMLP = `
inputs: 8
batch_size: 16
layers:
  - {type: dense, name: d1, units: 16, activation: relu}
  - {type: dense, name: d2, units: 3}
`

// fitData draws n examples of 8 inputs whose class (of 3) is mostly set
// by the first two inputs.
func fitData(r *rand.Rand, n int) data.Dataset {
	x := make([]float32, n*8)
	y := make([]float32, n*3)
	for i := 0; i < n; i++ {
		for j := 0; j < 8; j++ {
			x[i*8+j] = float32(r.NormFloat64())
		}
		c := 0
		switch {
		case r.IntN(5) == 0:
			c = r.IntN(3)
		case x[i*8] > 0.3:
			c = 1
		case x[i*8+1] > 0:
			c = 2
		}
		y[i*3+c] = 1
	}
	return data.Dataset{X: data.Array{Shape: []int64{int64(n), 8}, Data: x}, Y: data.Array{Shape: []int64{int64(n), 3}, Data: y}}
}

func normals(r *rand.Rand, scale float64, shape ...int64) data.Array {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return data.Array{Shape: shape, Data: v}
}

// fitSetup is the MLP, 64 training and 40 validation examples (two full
// validation batches of 16 and one of 8) and initial weights.
func fitSetup(t *testing.T) (models.Model, data.Dataset, data.Dataset, data.Weights) {
	t.Helper()
	cfg, err := models.ParseConfig(strings.NewReader(fitMLP))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Model()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 5))
	init := data.Weights{
		"d1/kernel": normals(r, 0.4, 8, 16), "d1/bias": normals(r, 0.1, 16),
		"d2/kernel": normals(r, 0.4, 16, 3), "d2/bias": normals(r, 0.1, 3),
	}
	return m, fitData(r, 64), fitData(r, 40), init
}

// Fit's per-epoch loss and accuracy (from the training steps' own
// logits), validation loss and accuracy and learning rate against Keras
// 3's Model.fit(shuffle=False, validation_data=...) with the same
// batches: a float MLP, 2 epochs of 4 steps of 16, graph numerics, with
// a fixed learning rate and with an exponential decay, and with class-id
// labels (sparse_categorical_crossentropy, whose accuracy Keras takes as
// sparse_categorical_accuracy). Expected: bit-identical.
func TestFitMatchesKerasFit(t *testing.T) {
	t.Run("fixed rate", func(t *testing.T) { fitMatchesKeras(t, nil, false) })
	t.Run("exponential decay", func(t *testing.T) {
		fitMatchesKeras(t, loop.ExponentialDecay{Initial: 0.01, DecaySteps: 3, DecayRate: 0.5}, false, "3", "0.5")
	})
	t.Run("sparse labels", func(t *testing.T) { fitMatchesKeras(t, nil, true) })
}

func fitMatchesKeras(t *testing.T, s loop.Schedule, sparse bool, decay ...string) {
	m, train, val, init := fitSetup(t)
	const epochs, batch, lr = 2, 16, 0.01
	lc := loop.DefaultConfig()
	if sparse {
		train.Y, val.Y = data.ClassIDsOf(train.Y), data.ClassIDsOf(val.Y)
		lc.Loss = models.Loss{Name: models.LossSparseCategorical}
	}
	adam := loop.NewAdam()
	adam.LearningRate, adam.Schedule = lr, s
	lc.Optimizer, lc.BatchSize, lc.DataSeed = adam, batch, 9
	in := data.Weights{"x_val": val.X, "y_val": val.Y}
	if sparse {
		in["sparse"] = data.Array{Shape: []int64{1}, Data: []float32{1}}
	}
	for k, v := range init {
		in[k] = v
	}
	// Each epoch's examples in the order the trainer's batcher takes them.
	b, err := data.NewBatcher(train, batch, lc.DataSeed)
	if err != nil {
		t.Fatal(err)
	}
	for e := 0; e < epochs; e++ {
		var xs, ys []float32
		for s := 0; s < b.StepsPerEpoch(); s++ {
			x, y := b.Next()
			xs, ys = append(xs, x.Data...), append(ys, y.Data...)
		}
		k := strconv.Itoa(e)
		in["x"+k] = data.Array{Shape: train.X.Shape, Data: xs}
		in["y"+k] = data.Array{Shape: train.Y.Shape, Data: ys}
	}
	dir := t.TempDir()
	inPath, outPath := filepath.Join(dir, "in.npz"), filepath.Join(dir, "out.npz")
	if err := data.WriteNPZ(inPath, in); err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Run("fit_reference.py", append([]string{inPath, outPath, strconv.FormatFloat(lr, 'g', -1, 64)}, decay...)...); err != nil {
		t.Fatal(err)
	}
	ref, err := data.ReadNPZ(outPath)
	if err != nil {
		t.Fatal(err)
	}

	tr, err := loop.NewTrainer(m, train, init, lc)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	h, err := loop.Fit(context.Background(), tr, loop.FitConfig{Epochs: epochs, Validation: &val})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Epochs) != epochs || h.Stopped {
		t.Fatalf("history %+v: want %d epochs, not stopped", h, epochs)
	}
	got := map[string][]float32{}
	for _, e := range h.Epochs {
		for _, k := range []string{"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} {
			v, _ := e.Metric(k)
			got[k] = append(got[k], v)
		}
		if e.ValFloatLoss != e.ValLoss || e.ValFloatAccuracy != e.ValAccuracy {
			t.Errorf("epoch %d: a float model's float validation %v/%v differs from its validation %v/%v", e.Epoch, e.ValFloatLoss, e.ValFloatAccuracy, e.ValLoss, e.ValAccuracy)
		}
	}
	for _, k := range []string{"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} {
		if sameFloats(t, k, got[k], ref[k].Data) {
			t.Logf("%s per epoch %v: bit-identical to Keras 3 fit", k, got[k])
		}
	}
	w, err := tr.Weights()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range w.Names() {
		sameFloats(t, "final "+k, w[k].Data, ref[k].Data)
	}
	if h.Epochs[1].Accuracy == h.Epochs[0].Accuracy || math.IsNaN(float64(h.Epochs[0].ValLoss)) {
		t.Errorf("history %+v: want an accuracy that changes and a validation loss", h.Epochs)
	}
}
