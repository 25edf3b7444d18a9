package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/infer"
	"github.com/qat-go/qat/internal/runtest"
	"github.com/qat-go/qat/loop"
)

// smallRun trains runtest.SmallCNN with qat train on 64 examples written
// to dir/d.npz, exports it, and returns the run folder and the data file.
func smallRun(t *testing.T) (run, npz string, d data.Dataset) {
	t.Helper()
	dir := t.TempDir()
	d = runtest.Data(64, []int64{8, 8, 1}, 5, 3)
	npz = filepath.Join(dir, "d.npz")
	if err := data.WriteNPZ(npz, map[string]data.Array{"x": d.X, "y": d.Y}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(cfg, []byte(runtest.SmallCNN+"data: {npz: d.npz}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run = filepath.Join(dir, "run")
	ctx := context.Background()
	if code, _, stderr := qat(t, ctx, "train", "--config", cfg, "--out", run); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	if code, _, stderr := qat(t, ctx, "export", "--from", run); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	return run, npz, d
}

func readLogits(t *testing.T, path string) data.Array {
	t.Helper()
	a, err := data.ReadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	return a["logits"]
}

// TestPredictCLI checks qat predict from a run folder and from its
// SavedModel (the same logits bit for bit), against qat eval's accuracy,
// and its stdout forms.
func TestPredictCLI(t *testing.T) {
	run, npz, d := smallRun(t)
	ctx := context.Background()
	tmp := t.TempDir()
	var logits []data.Array
	for i, model := range []string{run, filepath.Join(run, "saved_model")} {
		out := filepath.Join(tmp, strconv.Itoa(i)+".npz")
		code, stdout, stderr := qat(t, ctx, "predict", "--model", model, "--data", npz, "--out", out)
		if code != 0 {
			t.Fatalf("predict --model %s: %s", model, stderr)
		}
		if !strings.HasPrefix(stdout, "wrote "+out+": logits float32 [64 5] for 64 examples") {
			t.Errorf("summary %q", stdout)
		}
		logits = append(logits, readLogits(t, out))
	}
	for i := range logits[0].Data {
		if math.Float32bits(logits[0].Data[i]) != math.Float32bits(logits[1].Data[i]) {
			t.Fatalf("logit %d: run folder %v, SavedModel %v", i, logits[0].Data[i], logits[1].Data[i])
		}
	}
	t.Logf("run folder and SavedModel: %d of %d logits bit-identical", len(logits[0].Data), len(logits[0].Data))

	code, stdout, stderr := qat(t, ctx, "eval", "--saved-model", filepath.Join(run, "saved_model"), "--data", npz, "--json")
	if code != 0 {
		t.Fatalf("eval: %s", stderr)
	}
	var ev evalResult
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatal(err)
	}
	acc, err := loop.Accuracy(logits[0], d.Y)
	if err != nil {
		t.Fatal(err)
	}
	if acc != ev.Accuracy {
		t.Errorf("accuracy of predict's logits %v, qat eval's %v", acc, ev.Accuracy)
	}

	// Without --out: one line per example.
	code, stdout, stderr = qat(t, ctx, "predict", "--model", run, "--data", npz, "--output", "classes", "--batch", "7")
	if code != 0 {
		t.Fatalf("predict: %s", stderr)
	}
	ids, err := infer.Classes(logits[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 64 {
		t.Fatalf("%d lines, want 64", len(lines))
	}
	for i, l := range lines {
		if l != strconv.FormatInt(ids[i], 10) {
			t.Fatalf("line %d: %q, want class %d", i, l, ids[i])
		}
	}
	code, stdout, _ = qat(t, ctx, "predict", "--model", run, "--data", npz)
	if code != 0 {
		t.Fatal("predict to stdout failed")
	}
	for i, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		for j, f := range strings.Fields(l) {
			v, err := strconv.ParseFloat(f, 32)
			if err != nil || math.Float32bits(float32(v)) != math.Float32bits(logits[0].Data[i*5+j]) {
				t.Fatalf("line %d value %d: %q, want %v", i, j, f, logits[0].Data[i*5+j])
			}
		}
	}
}

func TestPredictCLIErrors(t *testing.T) {
	run, npz, _ := smallRun(t)
	tmp := t.TempDir()
	noX := filepath.Join(tmp, "nox.npz")
	if err := data.WriteNPZ(noX, map[string]data.Array{"y": {Shape: []int64{1, 5}, Data: make([]float32, 5)}}); err != nil {
		t.Fatal(err)
	}
	vec := filepath.Join(tmp, "vec.npz")
	if err := data.WriteNPZ(vec, map[string]data.Array{"x": {Shape: []int64{2, 64}, Data: make([]float32, 128)}}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "p.npz")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"--data", npz}, "--model is required"},
		{"no data", []string{"--model", run}, "--data is required"},
		{"batch 0", []string{"--model", run, "--data", npz, "--batch", "0"}, "--batch 0: want at least 1"},
		{"output", []string{"--model", run, "--data", npz, "--output", "probs"}, `--output "probs": want "logits" or "classes"`},
		{"numerics", []string{"--model", run, "--data", npz, "--numerics", "fast"}, `--numerics "fast"`},
		{"no x", []string{"--model", run, "--data", noX}, noX + ": no array x"},
		{"wrong shape", []string{"--model", run, "--data", vec}, "predict " + run + " on " + vec + ": x has shape [2 64], the model needs [N [8 8 1]]"},
		{"neither", []string{"--model", tmp, "--data", npz}, "model " + tmp + " is neither a run folder (no config.yaml, weights.npz) nor a SavedModel (no saved_model.pb)"},
		{"missing model", []string{"--model", filepath.Join(tmp, "none"), "--data", npz}, "model " + filepath.Join(tmp, "none") + " does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trainFails(t, out, tc.want, append([]string{"predict", "--out", out}, tc.args...)...)
		})
	}
}
