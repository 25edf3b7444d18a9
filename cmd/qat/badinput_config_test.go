package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
)

// TestTrainBadConfigAndFlags runs qat train on configs and flags that were
// accepted silently, crashed or were reported unclearly: each is one line
// on stderr naming what is wrong, exit code 1, nothing on stdout, and no
// output folder. The huge models must be refused at once, from their
// sizes alone.
func TestTrainBadConfigAndFlags(t *testing.T) {
	prev := data.SetMemoryLimit(1 << 30) // the same budget on any machine
	t.Cleanup(func() { data.SetMemoryLimit(prev) })
	dir := t.TempDir()
	configs := map[string]string{
		"steps_epochs.yaml":  "inputs: 4\nsteps: 10\nepochs: 2\nbatch_size: 5\nlayers: [{type: dense, units: 2}]\n",
		"strides.yaml":       "input: [8, 8, 1]\ndata: {npz: d.npz}\nlayers: [{type: conv2d, name: c, filters: 2, kernel: [3, 3], strides: [0, 0]}, {type: flatten}, {type: dense, units: 2}]\n",
		"pool.yaml":          "input: [8, 8, 1]\ndata: {npz: d.npz}\nlayers: [{type: max_pool, name: p, size: [0, 0]}, {type: flatten}, {type: dense, units: 2}]\n",
		"calib.yaml":         "inputs: 4\nbatch_size: 10\ncalibration_batches: 50\nscheme: {default: {weight_bits: 8}}\nlayers: [{type: dense, units: 2}]\n",
		"batch.yaml":         "inputs: 4\nbatch_size: 500\nsteps: 3\nlayers: [{type: dense, units: 2}]\n",
		"negative.yaml":      "inputs: 4\nbatch_size: -5\nlayers: [{type: dense, units: 2}]\n",
		"momentum.yaml":      "input: [4]\ndata: {npz: d.npz}\nlayers: [{type: dense, units: 3}, {type: batch_norm, name: bn, momentum: 2}, {type: dense, units: 2}]\n",
		"units.yaml":         "inputs: 10\nlayers: [{type: dense, name: big, units: 1e9}]\n",
		"filters.yaml":       "input: [28, 28, 1]\ndata: {mnist: true}\nbatch_size: 64\nlayers: [{type: conv2d, name: wide, filters: 1e8, kernel: [3, 3]}, {type: flatten}, {type: dense, units: 10}]\n",
		"input.yaml":         "input: [1e10, 1e10, 1e10]\ndata: {npz: d.npz}\nlayers: [{type: flatten}, {type: dense, units: 2}]\n",
		"inputs.yaml":        "inputs: 1e9\nlayers: [{type: dense, units: 2}]\n",
		"filters_dense.yaml": "inputs: 4\nlayers: [{type: dense, name: d, units: 2, filters: 3}]\n",
	}
	for name, text := range configs {
		write(t, filepath.Join(dir, name), text)
	}
	cfg := func(name string) []string { return []string{"--config", filepath.Join(dir, name)} }
	at := func(name string) string { return filepath.Join(dir, name) + ": " }
	for _, tc := range []struct {
		name string
		args []string
		want string // stderr after "qat: "
		fast bool   // must fail in well under a second
	}{
		{"steps and epochs in config", cfg("steps_epochs.yaml"), at("steps_epochs.yaml") + "give either steps (10) or epochs (2), not both", false},
		{"strides 0", cfg("strides.yaml"), at("strides.yaml") + "layer 1 (c): strides [0 0]: every value must be > 0 (omit strides for the default)", false},
		{"pool size 0", cfg("pool.yaml"), at("pool.yaml") + "layer 1 (p): size [0 0]: every value must be > 0", false},
		{"calibration_batches beyond data", cfg("calib.yaml"), at("calib.yaml") + "calibration_batches 50 is more than the data's 10 batches of 10 (100 examples)", false},
		{"batch_size beyond data", cfg("batch.yaml"), at("batch.yaml") + "batch_size 500 is more than the data's 100 examples", false},
		{"batch_size negative", cfg("negative.yaml"), at("negative.yaml") + "batch_size -5 must be > 0 (or omit it: the whole data set each step)", false},
		{"momentum 2", cfg("momentum.yaml"), at("momentum.yaml") + "layer 2 (bn): momentum 2 must be in (0, 1) (omit it for 0.99)", false},
		{"key of another layer type", cfg("filters_dense.yaml"), at("filters_dense.yaml") + "layer 1 (d): filters does not apply to a dense layer (it takes the keys units, activation)", false},
		{"units 1e9", cfg("units.yaml"), at("units.yaml") + "model: too large to train: layer big needs 536.4 GiB (11000000000 parameters); the model at least 909.0 GiB", true},
		{"filters 1e8", cfg("filters.yaml"), at("filters.yaml") + "model: too large to train: layer ", true},
		{"input shape overflow", cfg("input.yaml"), at("input.yaml") + "model: input shape [10000000000 10000000000 10000000000] has more than 2^63 values", true},
		{"synthetic inputs 1e9", cfg("inputs.yaml"), at("inputs.yaml") + "model: too large to train: layer layer1 needs", true},
		{"steps 0", []string{"--steps", "0"}, "--steps 0 must be > 0", false},
		{"steps negative", []string{"--steps", "-3"}, "--steps -3 must be > 0", false},
		{"steps and epochs flags", []string{"--steps", "5", "--epochs", "2"}, "--steps 5 and --epochs 2: give one", false},
		{"epochs 0", []string{"--epochs", "0"}, "--epochs 0 must be > 0", false},
		{"epochs on an example", []string{"--example", "2", "--epochs", "2"}, "--epochs 2 needs a config with batch_size (example 2 has none; give --steps instead)", false},
		{"threads 0", []string{"--threads", "0"}, "--threads 0 must be > 0", false},
		{"numerics", []string{"--numerics", "fast"}, `--numerics "fast": want graph (tf.function and Keras fit) or eager (eager TensorFlow)`, false},
		{"lr NaN", []string{"--lr", "NaN"}, "--lr NaN must be finite and > 0", false},
		{"lr Inf", []string{"--lr", "Inf"}, "--lr +Inf must be finite and > 0", false},
		{"empty config", []string{"--config", ""}, "--config is empty: give a file, or leave the flag out", false},
		{"empty data", []string{"--data", ""}, "--data is empty: give a file, or leave the flag out", false},
		{"empty init", []string{"--init", ""}, "--init is empty: give a file, or leave the flag out", false},
		{"example 4", []string{"--example", "4"}, "--example 4: the article has examples 1, 2 and 3", false},
		{"example -1", []string{"--example", "-1"}, "--example -1: the article has examples 1, 2 and 3", false},
		{"unknown flag", []string{"--step", "3"}, "unknown flag: --step (see qat train --help)", false},
		{"unknown shorthand", []string{"-x"}, "unknown shorthand flag: 'x' in -x (see qat train --help)", false},
		{"seed negative", []string{"--seed", "-1"}, `invalid argument "-1" for "--seed"`, false},
		{"flag without value", []string{"--steps"}, "flag needs an argument: --steps (see qat train --help)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			start := time.Now()
			trainFails(t, out, tc.want, append([]string{"train", "--out", out}, tc.args...)...)
			took := time.Since(start)
			if tc.fast && took > time.Second {
				t.Errorf("took %v; a model too large must be refused from its sizes", took)
			}
		})
	}
	// --out "" names the flag, not "mkdir : no such file or directory".
	code, _, stderr := qat(t, context.Background(), "train", "--out", "")
	if code != 1 || stderr != "qat: --out is empty: give a DIR, or leave the flag out\n" {
		t.Errorf("--out \"\": exit %d, stderr %q", code, stderr)
	}
}

// TestOtherCommandsBadFlags checks the empty and bad flags of export,
// eval and convert.
func TestOtherCommandsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--from", "run", "--out", ""}, "--out is empty: give a folder, or leave the flag out"},
		{[]string{"export", "--from", ""}, "--from is empty: give a DIR, or leave the flag out"},
		{[]string{"eval", "--saved-model", ""}, "--saved-model is empty: give a folder, or leave the flag out"},
		{[]string{"eval", "--saved-model", "m", "--threads", "0"}, "--threads 0: want at least 1"},
		{[]string{"eval", "--saved-model", "m", "--numerics", "xla"}, `--numerics "xla": want graph (tf.function, Python's loaded SavedModels) or eager (eager TensorFlow)`},
		{[]string{"convert", "--saved-model", "m", "--out", ""}, "--out is empty: give a file, or leave the flag out"},
		{[]string{"eval", "--saved-model", "m", "--thread", "2"}, "unknown flag: --thread (see qat eval --help)"},
		{[]string{"version", "--json"}, "unknown flag: --json (see qat version --help)"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := qat(t, context.Background(), tc.args...)
			if code != 1 || stderr != "qat: "+tc.want+"\n" || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, "qat: "+tc.want)
			}
		})
	}
}

// TestEvalAnySingleInput evaluates SavedModels written by Python
// TensorFlow whose serving_default signature is not x -> logits: a single
// input of another name (and a single output) works; several inputs, several
// outputs without logits, or an int32 input are errors that list them.
func TestEvalAnySingleInput(t *testing.T) {
	dir := t.TempDir()
	if _, err := oracle.Run("savedmodel_signatures.py", dir); err != nil {
		t.Fatal(err)
	}
	ds := filepath.Join(dir, "d.npz")
	// scores = x @ W, W[i] = (i+1) * [1, -1]: rows 1-3 are right, row 4 wrong.
	if err := data.WriteNPZ(ds, map[string]data.Array{
		"x": {Shape: []int64{4, 4}, Data: []float32{1, 0, 0, 0, 0, 1, 0, 0, -1, 0, 0, 0, 0, 0, 0, -1}},
		"y": {Shape: []int64{4, 2}, Data: []float32{1, 0, 1, 0, 0, 1, 1, 0}},
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	one := filepath.Join(dir, "one_input")
	code, stdout, stderr := qat(t, ctx, "eval", "--saved-model", one, "--data", ds)
	if code != 0 || stdout != one+": accuracy 75.00% on 4 examples ("+ds+")\n" {
		t.Errorf("one input named images: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, tc := range []struct{ model, want string }{
		{"two_inputs", `signature "serving_default" has 2 inputs ["images" "mask"]; qat needs one`},
		{"two_outputs", `signature "serving_default" has 2 outputs ["a" "b"] and none is named "logits"; qat needs one output`},
		{"int_input", `signature "serving_default": input "ids" is int32, want float32`},
	} {
		t.Run(tc.model, func(t *testing.T) {
			sm := filepath.Join(dir, tc.model)
			code, _, stderr := qat(t, ctx, "eval", "--saved-model", sm, "--data", ds)
			if want := "qat: savedmodel: " + sm + ": " + tc.want + "\n"; code != 1 || stderr != want {
				t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
			}
		})
	}
}
