package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/data/mnist"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
)

// smallCNNConfig is a small 8-bit QAT CNN on MNIST (the model of the
// tfmot parity test) trained for steps batches of batch images.
func smallCNNConfig(seed, batch, steps int) string {
	return fmt.Sprintf(`input: [28, 28, 1]
data: {mnist: true}
seed: %d
batch_size: %d
steps: %d
optimizer: {name: adam, learning_rate: 0.001}
scheme: {input_bits: 8, default: {weight_bits: 8, activation_bits: 8}}
layers:
  - {type: conv2d, name: c1, filters: 8, kernel: [3, 3], activation: relu}
  - {type: max_pool, name: p1}
  - {type: conv2d, name: c2, filters: 16, kernel: [3, 3], activation: relu}
  - {type: flatten, name: f}
  - {type: dense, name: d, units: 10}
`, seed, batch, steps)
}

// graphHead is the start of the graph-shaped MNIST configs below.
const graphHead = `input: [28, 28, 1]
data: {mnist: true}
seed: 1
batch_size: 64
steps: %d
optimizer: {name: adam, learning_rate: 0.001}
scheme: {input_bits: 8, default: {weight_bits: 8, activation_bits: 8}}
`

// residualConfig is a small ResNet-style model: a basic block (Conv-BN-
// ReLU-Conv-BN, Add with the block's input, ReLU) after a strided stem.
func residualConfig(steps int) string {
	return fmt.Sprintf(graphHead, steps) + `layers:
  - {type: conv2d, name: c1, filters: 8, kernel: [3, 3], strides: [2, 2], no_bias: true}
  - {type: batch_norm, name: bn1}
  - {type: relu, name: r1}
  - {type: conv2d, name: c2, filters: 8, kernel: [3, 3], padding: same, no_bias: true}
  - {type: batch_norm, name: bn2}
  - {type: relu, name: r2}
  - {type: conv2d, name: c3, filters: 8, kernel: [3, 3], padding: same, no_bias: true}
  - {type: batch_norm, name: bn3}
  - {type: add, name: add, inputs: [r1, bn3]}
  - {type: relu, name: r3}
  - {type: max_pool, name: p}
  - {type: flatten, name: f}
  - {type: dense, name: d, units: 10}
`
}

// concatConfig is a small Inception-style model: three branches (1x1
// conv, 3x3 conv, 3x3 average pool) joined by Concatenate, after a padded,
// strided stem, with dropout before the classifier.
func concatConfig(steps int) string {
	return fmt.Sprintf(graphHead, steps) + `layers:
  - {type: zero_padding2d, name: zp, pad: [1]}
  - {type: conv2d, name: c1, filters: 8, kernel: [3, 3], strides: [2, 2], activation: relu}
  - {type: conv2d, name: b1, filters: 8, kernel: [1, 1], activation: relu}
  - {type: conv2d, name: b2, filters: 8, kernel: [3, 3], padding: same, activation: relu, inputs: [c1]}
  - {type: avg_pool, name: b3, size: [3, 3], strides: [1, 1], padding: same, inputs: [c1]}
  - {type: concatenate, name: cat, inputs: [b1, b2, b3]}
  - {type: max_pool, name: p}
  - {type: flatten, name: f}
  - {type: dropout, name: dr, rate: 0.1}
  - {type: dense, name: d, units: 10}
`
}

// TestTrainExportConvert is the user's path: qat train (8-bit QAT on
// MNIST), qat export, qat eval (the SavedModel's accuracy in Go must equal
// the one train recorded), qat convert --int8-io; then TensorFlow's TFLite
// interpreter runs the int8 model on the 10,000 test images and its outputs
// are compared with Go's fake-quant outputs of the same model: argmax
// agreement >= 99.5%, logits within 2 quantization steps (3 where
// TFLite requantizes a concatenation's inputs to one scale, adding a
// rounding that fake quant does not have), accuracy within 0.2 points. It
// runs for a chain CNN, a residual model and a concatenating one.
func TestTrainExportConvert(t *testing.T) {
	for _, c := range []struct {
		name, config string
		steps        float64
	}{
		{"cnn", smallCNNConfig(1, 64, 600), 2},
		{"residual", residualConfig(400), 2},
		{"concat", concatConfig(400), 3},
	} {
		t.Run(c.name, func(t *testing.T) { trainExportConvert(t, c.config, c.steps) })
	}
}

// trainExportConvert runs TestTrainExportConvert's path for one config;
// maxSteps bounds the logits' difference in quantization steps.
func trainExportConvert(t *testing.T, config string, maxSteps float64) {
	ctx := context.Background()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "model.yaml")
	write(t, cfgPath, config)
	run := filepath.Join(dir, "run")
	if code, _, stderr := qat(t, ctx, "train", "--config", cfgPath, "--threads", "2", "--out", run); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	if code, _, stderr := qat(t, ctx, "export", "--from", run); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	sm := filepath.Join(run, "saved_model")
	if code, _, stderr := qat(t, ctx, "export", "--from", run); code == 0 || !strings.Contains(stderr, "already exists") {
		t.Errorf("second export into the same folder: code %d, stderr %q", code, stderr)
	}
	tfl := filepath.Join(dir, "model.tflite")
	code, stdout, stderr := qat(t, ctx, "convert", "--saved-model", sm, "--int8-io", "--out", tfl)
	if code != 0 {
		t.Fatalf("convert: %s", stderr)
	}
	var info struct {
		Inputs, Outputs []struct {
			Dtype string  `json:"dtype"`
			Scale float64 `json:"scale"`
		}
		Bytes int      `json:"bytes"`
		Ops   []string `json:"ops"`
	}
	if err := json.Unmarshal([]byte(stdout[strings.Index(stdout, "{"):]), &info); err != nil {
		t.Fatalf("convert output %q: %v", stdout, err)
	}
	if info.Inputs[0].Dtype != "int8" || info.Outputs[0].Dtype != "int8" {
		t.Fatalf("int8 io: input %s, output %s", info.Inputs[0].Dtype, info.Outputs[0].Dtype)
	}

	// Go's fake-quant outputs of the trained model.
	_, test, err := mnist.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := models.LoadConfig(filepath.Join(run, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Model()
	if err != nil {
		t.Fatal(err)
	}
	w, err := data.ReadNPZ(filepath.Join(run, "weights.npz"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := data.ReadNPZ(filepath.Join(run, "ranges.npz"))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := loop.NewEvaluator(m, w, r, tfgraph.SessionConfig{IntraOpThreads: 2, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	goLogits, err := ev.Predict(test.X)
	if err != nil {
		t.Fatal(err)
	}
	goAcc, _ := loop.Accuracy(goLogits, test.Y)

	// qat eval: the SavedModel's accuracy in Go equals the training
	// graph's, which train recorded in metrics.json.
	code, stdout, stderr = qat(t, ctx, "eval", "--saved-model", sm, "--threads", "2", "--json")
	if code != 0 {
		t.Fatalf("eval: %s", stderr)
	}
	var evRes evalResult
	if err := json.Unmarshal([]byte(stdout), &evRes); err != nil {
		t.Fatalf("eval output %q: %v", stdout, err)
	}
	var recorded metrics
	if data, err := os.ReadFile(filepath.Join(run, "metrics.json")); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(data, &recorded); err != nil {
		t.Fatal(err)
	}
	t.Logf("qat eval: SavedModel accuracy %.2f%% on %d images; metrics.json fake-quant %.2f%%", 100*evRes.Accuracy, evRes.TestExamples, 100*recorded.FakeQuantAccuracy)
	if evRes.TestExamples != 10000 || evRes.Accuracy != recorded.FakeQuantAccuracy || evRes.Accuracy != goAcc {
		t.Errorf("qat eval: accuracy %v on %d images, want %v (metrics.json) = %v (Go evaluator) on 10000",
			evRes.Accuracy, evRes.TestExamples, recorded.FakeQuantAccuracy, goAcc)
	}

	in, out := filepath.Join(dir, "x.npz"), filepath.Join(dir, "y.npz")
	if err := data.WriteNPZ(in, map[string]data.Array{"x": test.X}); err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Run("tflite_run.py", tfl, in, out); err != nil {
		t.Fatal(err)
	}
	ref, err := data.ReadNPZ(out)
	if err != nil {
		t.Fatal(err)
	}
	lite := ref["logits"]
	scale := float64(ref["scale"].Data[0])
	liteAcc, err := loop.Accuracy(lite, test.Y)
	if err != nil {
		t.Fatal(err)
	}
	n, c := int(lite.Shape[0]), int(lite.Shape[1])
	agree, worst := 0, 0.0
	for i := 0; i < n; i++ {
		g, l := goLogits.Data[i*c:(i+1)*c], lite.Data[i*c:(i+1)*c]
		if argmaxOf(g) == argmaxOf(l) {
			agree++
		}
		for j := range g {
			worst = math.Max(worst, math.Abs(float64(g[j])-float64(l[j]))/scale)
		}
	}
	t.Logf("int8 TFLite (%d bytes, ops %v) vs Go fake quant on %d test images: argmax agreement %.2f%%, max |logit diff| %.2f steps of %.4g; accuracy TFLite %.2f%%, Go %.2f%%",
		info.Bytes, info.Ops, n, 100*float64(agree)/float64(n), worst, scale, 100*liteAcc, 100*goAcc)
	if float64(agree) < 0.995*float64(n) {
		t.Errorf("argmax agreement %d of %d < 99.5%%", agree, n)
	}
	// Both outputs lie on the int8 output grid, so a difference is a whole
	// number of steps; the tolerance absorbs the float rounding of the
	// division (3 steps measured as 3.0000106).
	if worst > maxSteps+1e-4 {
		t.Errorf("logits differ by up to %.2f quantization steps > %g", worst, maxSteps)
	}
	if math.Abs(liteAcc-goAcc) > 0.002 {
		t.Errorf("TFLite accuracy %.2f%% is more than 0.2 points from Go's %.2f%%", 100*liteAcc, 100*goAcc)
	}
}

func argmaxOf(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// TestConvertErrors checks convert's errors: no SavedModel, no Python.
func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := qat(t, context.Background(), "convert", "--saved-model", dir)
	if code == 0 || !strings.Contains(stderr, "has no saved_model.pb: export one with qat export first") {
		t.Errorf("no SavedModel: code %d, stderr %q", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "saved_model.pb"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = qat(t, context.Background(), "convert", "--saved-model", dir, "--python", filepath.Join(dir, "nope"))
	if code == 0 || !strings.Contains(stderr, "--python "+filepath.Join(dir, "nope")+": not an executable") {
		t.Errorf("bad python: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = qat(t, context.Background(), "export")
	if code == 0 || !strings.Contains(stderr, "--from is required") {
		t.Errorf("export without --from: code %d, stderr %q", code, stderr)
	}
}

// TestEvalErrors checks qat eval's errors: no folder, not a SavedModel, a
// data file that does not fit the model, bad --threads.
func TestEvalErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, sm := exported(t, dir, "3", "2")
	wrong := filepath.Join(dir, "wrong.npz")
	if err := data.WriteNPZ(wrong, map[string]data.Array{
		"x": {Shape: []int64{4, 9}, Data: make([]float32, 36)},
		"y": {Shape: []int64{4, 10}, Data: make([]float32, 40)},
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no folder", []string{"eval"}, "--saved-model is required"},
		{"not a SavedModel", []string{"eval", "--saved-model", dir}, dir + " has no saved_model.pb: not a SavedModel"},
		{"MNIST does not fit", []string{"eval", "--saved-model", sm}, "mnist: the model's input [10] takes neither [28 28 1] images nor [784] rows"},
		{"data does not fit", []string{"eval", "--saved-model", sm, "--data", wrong}, "x has shape [4 9], want [N [10]]"},
		{"threads", []string{"eval", "--saved-model", sm, "--threads", "0"}, "--threads 0: want at least 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := qat(t, ctx, c.args...)
			if code == 0 || !strings.Contains(stderr, c.want) {
				t.Errorf("code %d, stderr %q, want an error containing %q", code, stderr, c.want)
			}
		})
	}
}
