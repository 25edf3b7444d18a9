package loop_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/data/mnist"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
)

// tfmotTol is the bound on relative differences against tfmot.
const tfmotTol = 1e-5

// goName maps the reference script's names to ours (tfmot's input
// QuantizeLayer keeps its variables as quantize_layer/quantize_layer_min).
func goName(ref string) string {
	if strings.HasPrefix(ref, "quantize_layer/") {
		return "quantize_layer/quantize_layer_" + strings.TrimPrefix(ref, "quantize_layer/")
	}
	return ref
}

// TestTFMOTParity trains the MLP (784-128-10) and the small CNN for 50
// steps with tfmot's default 8-bit scheme in Go and with
// tfmot.quantization.keras.quantize_model + Keras Adam in Python
// (third_party/reference/tfmot_reference.py), from the same initial weights
// on the same MNIST batches, and compares every step's loss, the final
// weights, every quantizer min/max variable and the inference logits:
// Python's eager GradientTape loop against Go's eager numerics, and its
// tf.function step and train_on_batch against Go's graph numerics.
func TestTFMOTParity(t *testing.T) {
	train, _, err := mnist.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		model models.Model
	}{
		{"mlp", models.MLP(qat.Default8Bit())},
		{"cnn", models.SmallCNN(qat.Default8Bit())},
	} {
		for _, mode := range parityModes() {
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				tfmotParity(t, train, c.name, mode, c.model, 50, tfmotTol)
			})
		}
	}
}

// parityModes are the ways the reference script trains (see tfmotParity):
// all three, or under -short (make race) eager and tf.function only.
func parityModes() []string {
	if testing.Short() {
		return []string{"eager", "function"}
	}
	return []string{"eager", "function", "train_on_batch"}
}

// tfmotParity trains m in Go and the reference script's model name for
// steps batches of 32 MNIST digits (Adam, learning rate 1e-3, one thread
// each) and fails where a step's loss, a final variable or the inference
// logits on the first batch after training differ from tfmot's by more
// than tol (relative; 0: bit for bit), or where either model has a
// variable the other lacks.
//
// mode is how the reference script runs its steps: "eager" (a GradientTape
// loop, against the Go trainer in EagerNumerics), or "function" (the same
// step under tf.function) or "train_on_batch" (Keras's compiled step), both
// against GraphNumerics.
func tfmotParity(t *testing.T, train data.Dataset, name, mode string, m models.Model, steps int, tol float64) {
	t.Helper()
	const batch, lr = 32, 1e-3
	b, err := data.NewBatcher(train, batch, 3)
	if err != nil {
		t.Fatal(err)
	}
	var xs, ys []data.Array
	x := data.Array{Shape: append([]int64{int64(steps), batch}, m.Input...)}
	y := data.Array{Shape: []int64{int64(steps), batch, 10}}
	for i := 0; i < steps; i++ {
		bx, by := b.Next()
		bx.Shape = append([]int64{batch}, m.Input...) // the MLP reads flat 784-vectors
		xs, ys = append(xs, bx), append(ys, by)
		x.Data = append(x.Data, bx.Data...)
		y.Data = append(y.Data, by.Data...)
	}
	init, err := m.InitialWeights(nil, 11)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := map[string]data.Array{"x": x, "y": y}
	for k, v := range init {
		in[k] = v
	}
	inPath, outPath := filepath.Join(dir, "in.npz"), filepath.Join(dir, "out.npz")
	if err := data.WriteNPZ(inPath, in); err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Run("tfmot_reference.py", name, inPath, outPath, "--steps", fmt.Sprint(steps), "--lr", fmt.Sprint(lr), "--eval", "--mode", mode); err != nil {
		t.Fatal(err)
	}
	ref, err := data.ReadNPZ(outPath)
	if err != nil {
		t.Fatal(err)
	}

	cfg := loop.DefaultConfig()
	cfg.Optimizer = adam(lr)
	cfg.BatchSize = batch
	cfg.Session.Numerics = tfgraph.GraphNumerics
	if mode == "eager" {
		cfg.Session.Numerics = tfgraph.EagerNumerics
	}

	all := data.Dataset{X: data.Array{Shape: append([]int64{int64(steps) * batch}, m.Input...), Data: x.Data},
		Y: data.Array{Shape: []int64{int64(steps) * batch, 10}, Data: y.Data}}
	tr, err := loop.NewTrainer(m, all, init, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	worstLoss, sameLoss := 0.0, 0
	for i := 0; i < steps; i++ {
		loss, err := tr.StepOn(xs[i], ys[i])
		if err != nil {
			t.Fatal(err)
		}
		d := relDiff(loss, ref["loss"].Data[i])
		worstLoss = max(worstLoss, d)
		if d == 0 {
			sameLoss++
		}
		if d > tol {
			t.Errorf("step %d: loss %v, tfmot %v (rel %.2g)", i+1, loss, ref["loss"].Data[i], d)
		}
	}
	state, err := tr.State()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range ref {
		if k != "loss" && k != "logits_infer" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	mapped := map[string]bool{}
	for _, k := range names {
		mapped[goName(k)] = true
	}
	for k := range state {
		if !strings.HasPrefix(k, "adam/") && !mapped[k] {
			t.Errorf("the Go model has %s, tfmot does not", k)
		}
	}
	worstW, worstR, sameVars := 0.0, 0.0, 0
	lastAct := m.Layers[len(m.Layers)-1].LayerName() + "/post_activation"
	for _, k := range names {
		got, ok := state[goName(k)]
		if !ok {
			t.Errorf("tfmot has %s (ours %s), the Go model does not", k, goName(k))
			continue
		}
		want := ref[k]
		if len(got.Data) != len(want.Data) {
			t.Errorf("%s: %d values, tfmot %d", k, len(got.Data), len(want.Data))
			continue
		}
		w := 0.0
		for i := range want.Data {
			w = max(w, relDiff(got.Data[i], want.Data[i]))
		}
		if w == 0 {
			sameVars++
		}
		if strings.HasSuffix(k, "_min") || strings.HasSuffix(k, "_max") {
			worstR = max(worstR, w)
		} else {
			worstW = max(worstW, w)
		}
		if w > tol {
			t.Errorf("%s: max relative difference %.3g > %g", k, w, tol)
		}
	}
	logits, err := tr.Predict(xs[0])
	if err != nil {
		t.Fatal(err)
	}
	want := ref["logits_infer"]
	if len(logits.Data) != len(want.Data) {
		t.Fatalf("inference: %d logits, tfmot %d", len(logits.Data), len(want.Data))
	}
	worstI := 0.0
	for i := range want.Data {
		worstI = max(worstI, relDiff(logits.Data[i], want.Data[i]))
	}
	if worstI > tol {
		t.Errorf("inference logits after training: max relative difference %.3g > %g", worstI, tol)
	}
	t.Logf("%s vs tfmot (%s), %d steps (loss %.4f -> %.4f, %s [%.4f, %.4f]): %d/%d losses and %d/%d variables bit-identical; max relative difference loss %.3g, weights %.3g, min/max %.3g, inference logits %.3g",
		name, mode, steps, ref["loss"].Data[0], ref["loss"].Data[steps-1], lastAct, ref[lastAct+"_min"].Data[0], ref[lastAct+"_max"].Data[0],
		sameLoss, steps, sameVars, len(names), worstLoss, worstW, worstR, worstI)
}
