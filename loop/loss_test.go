package loop_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
)

// lossMLP is the float MLP of the loss tests: 6 inputs, dense 8 (relu),
// dense 3 (logits).
func lossMLP() models.Model {
	return models.Model{Input: []int64{6}, Layers: []layers.Layer{
		layers.Dense{Name: "d1", Units: 8, Activation: layers.ReLUAct},
		layers.Dense{Name: "d2", Units: 3},
	}}
}

// lossData draws 16 examples x ~ N(0, 1) with labels of the given form
// for 3 outputs: one-hot rows, class ids, N(0, 1) targets, or 0/1 labels.
func lossData(r *rand.Rand, form data.Labels) data.Dataset {
	const n, k = 16, 3
	x := make([]float32, n*6)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	shape := form.Shape(n, k)
	y := make([]float32, n*k)
	switch form {
	case data.OneHot:
		for i := 0; i < n; i++ {
			y[i*k+r.IntN(k)] = 1
		}
	case data.ClassIDs:
		y = y[:n]
		for i := range y {
			y[i] = float32(r.IntN(k))
		}
	case data.Targets:
		for i := range y {
			y[i] = float32(r.NormFloat64())
		}
	case data.Probabilities:
		for i := range y {
			y[i] = float32(r.IntN(2))
		}
	}
	return data.Dataset{X: data.Array{Shape: []int64{n, 6}, Data: x}, Y: data.Array{Shape: shape, Data: y}}
}

// TestLossesMatchKeras trains lossMLP for 20 steps with each loss in Go
// (graph numerics, Adam 0.01) and with Keras 3's loss class of that name
// (third_party/reference/loss_reference.py) from the same weights and
// data, and wants every step's loss and the final weights bit-identical:
// against a tf.function GradientTape step of the same ops (MatMul,
// BiasAdd), and against Keras's own Dense layers stepped by
// model.train_on_batch; and in eager numerics against the GradientTape
// step run eagerly.
func TestLossesMatchKeras(t *testing.T) {
	const steps = 20
	modes := []string{"function", "train_on_batch", "eager"}
	if testing.Short() {
		modes = modes[:1]
	}
	for i, c := range []models.Loss{
		{},
		{Name: models.LossCategorical, LabelSmoothing: 0.1},
		{Name: models.LossSparseCategorical},
		{Name: "mse"},
		{Name: models.LossBinary},
		{Name: models.LossBinary, LabelSmoothing: 0.2},
	} {
		t.Run(c.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i+1), 99))
			m := lossMLP()
			ds := lossData(r, c.Labels())
			init, err := m.InitialWeights(nil, uint64(i+1))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			in := map[string]data.Array{"x": ds.X, "y": ds.Y}
			for k, v := range init {
				in[k] = v
			}
			inPath, outPath := filepath.Join(dir, "in.npz"), filepath.Join(dir, "out.npz")
			if err := data.WriteNPZ(inPath, in); err != nil {
				t.Fatal(err)
			}
			name := strings.Fields(c.String())[0]
			if _, err := oracle.Run("loss_reference.py", name, inPath, outPath, "--steps", fmt.Sprint(steps), "--lr", "0.01",
				"--label-smoothing", fmt.Sprint(c.LabelSmoothing), "--modes", strings.Join(modes, ",")); err != nil {
				t.Fatal(err)
			}
			ref, err := data.ReadNPZ(outPath)
			if err != nil {
				t.Fatal(err)
			}
			run := map[tfgraph.Numerics]func() ([]float32, data.Weights){}
			for _, numerics := range []tfgraph.Numerics{tfgraph.GraphNumerics, tfgraph.EagerNumerics} {
				cfg := loop.DefaultConfig()
				cfg.Loss, cfg.Session.Numerics = c, numerics
				run[numerics] = sync.OnceValues(func() ([]float32, data.Weights) {
					tr, err := loop.NewTrainer(m, ds, init, cfg)
					if err != nil {
						t.Fatal(err)
					}
					defer tr.Close()
					return train(t, tr, steps)
				})
			}
			for _, mode := range modes {
				numerics := tfgraph.GraphNumerics
				if mode == "eager" {
					numerics = tfgraph.EagerNumerics
				}
				losses, w := run[numerics]()
				ok := sameFloats(t, mode+" losses", losses, ref[mode+":loss"].Data)
				for _, n := range w.Names() {
					ok = sameFloats(t, mode+" "+n, w[n].Data, ref[mode+":"+n].Data) && ok
				}
				if ok {
					t.Logf("%s: %d/%d steps bit-identical to Keras 3 (%s, %s numerics), loss %.4f -> %.4f", c, steps, steps, mode, numerics, losses[0], losses[steps-1])
				}
			}
		})
	}
}

// Labels that do not fit the loss are errors of NewTrainer, before any
// TensorFlow op runs.
func TestNewTrainerRejectsBadLabels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ids := lossData(r, data.ClassIDs)
	outOfRange := lossData(r, data.ClassIDs)
	outOfRange.Y.Data[5] = 3
	for _, c := range []struct {
		name string
		loss models.Loss
		ds   data.Dataset
		want string
	}{
		{"id out of range", models.Loss{Name: models.LossSparseCategorical}, outOfRange, "y row 5 (counting from 0) is 3; class ids must be integers in [0, 3)"},
		{"ids for categorical", models.Loss{}, ids, "y has shape [16], the model needs [N, 3] (one-hot)"},
		{"one-hot for sparse", models.Loss{Name: models.LossSparseCategorical}, lossData(r, data.OneHot), "y has shape [16 3], the model and loss need [N] (class ids)"},
		{"ids for mse", models.Loss{Name: "mse"}, ids, "y has shape [16], the model and loss need [N, 3] (targets)"},
		{"targets for bce", models.Loss{Name: models.LossBinary}, lossData(r, data.Targets), "binary cross-entropy labels must be in [0, 1]"},
		{"smoothing sparse", models.Loss{Name: models.LossSparseCategorical, LabelSmoothing: 0.1}, ids, "takes no label_smoothing"},
		{"unknown", models.Loss{Name: "kld"}, ids, `unknown name "kld"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := loop.DefaultConfig()
			cfg.Loss = c.loss
			tr, err := loop.NewTrainer(lossMLP(), c.ds, nil, cfg)
			if err == nil {
				tr.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

// Accuracy takes class ids [N] as well as one-hot rows; BinaryAccuracy
// thresholds logits at 0 as Keras's BinaryAccuracy(threshold=0).
func TestSparseAndBinaryAccuracy(t *testing.T) {
	logits := data.Array{Shape: []int64{4, 3}, Data: []float32{
		1, 2, 3, // 2
		-1, 0, -2, // 1
		5, 0, 0, // 0
		0, 0, 1, // 2
	}}
	ids := data.Array{Shape: []int64{4}, Data: []float32{2, 1, 1, 0}}
	if a, err := loop.Accuracy(logits, ids); err != nil || a != 0.5 {
		t.Errorf("Accuracy(class ids) = %v, %v; want 0.5", a, err)
	}
	if _, err := loop.Accuracy(logits, data.Array{Shape: []int64{4}, Data: []float32{2, 1, 7, 0}}); err == nil || !strings.Contains(err.Error(), "row 2 (counting from 0) is 7") {
		t.Errorf("Accuracy(id 7 of 3 classes) = %v", err)
	}
	bin := data.Array{Shape: []int64{4, 3}, Data: []float32{1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1}}
	// (logit > 0): 1 1 1 / 0 0 0 / 1 0 0 / 0 0 1 -> 11 of 12 equal.
	if a, err := loop.LabelAccuracy(logits, bin, data.Probabilities); err != nil || a != 11.0/12 {
		t.Errorf("binary accuracy = %v, %v; want 11/12", a, err)
	}
	if _, err := loop.LabelAccuracy(logits, bin, data.Targets); err == nil || !strings.Contains(err.Error(), "not defined for targets") {
		t.Errorf("accuracy of targets = %v", err)
	}
}

// LabelAccuracy reports what Keras users expect for each form of labels.
func ExampleLabelAccuracy() {
	logits := data.Array{Shape: []int64{2, 3}, Data: []float32{0.2, 1.5, -1, 3, -2, 0.5}}
	ids := data.Array{Shape: []int64{2}, Data: []float32{1, 2}}
	binary := data.Array{Shape: []int64{2, 3}, Data: []float32{1, 1, 0, 1, 0, 0}}
	a, _ := loop.LabelAccuracy(logits, ids, data.ClassIDs)
	b, _ := loop.LabelAccuracy(logits, binary, data.Probabilities)
	_, err := loop.LabelAccuracy(logits, binary, data.Targets)
	fmt.Printf("class ids %.2f, binary %.2f\n%v\n", a, b, err)
	// Output:
	// class ids 0.50, binary 0.83
	// accuracy: not defined for targets labels (mean squared error); use the loss
}
