package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/tbevents"
	"github.com/qat-go/qat/loop"
)

// fitConfig is an MLP on data (64 examples) with 16 of them held out,
// batches of 16 (3 steps an epoch) and the extra keys given.
func fitConfig(data, extra string) string {
	return "inputs: 10\nepochs: 8\nbatch_size: 16\noptimizer: {learning_rate: 0.01}\ndata: {npz: " + data + "}\nvalidation_split: 0.25\n" +
		"layers:\n  - {name: a, type: dense, units: 16, activation: relu}\n  - {name: b, type: dense, units: 3}\n" +
		"scheme: {default: {weight_bits: 8, activation_bits: 8}}\n" + extra
}

// readHistoryCSV reads history.csv's rows by column name.
func readHistoryCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], ","); got != "epoch,step,loss,accuracy,val_loss,val_accuracy,val_float_loss,val_float_accuracy,learning_rate" {
		t.Fatalf("history.csv header %q", got)
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, k := range rows[0] {
			m[k] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func f32col(t *testing.T, row map[string]string, k string) float32 {
	t.Helper()
	v, err := strconv.ParseFloat(row[k], 32)
	if err != nil {
		t.Fatalf("%s %q: %v", k, row[k], err)
	}
	return float32(v)
}

// qat train with validation_split, early stopping and a best checkpoint:
// history.csv has a row per epoch with the validation columns; the run
// stops at the epoch EarlyStopping stops at for history.csv's val_loss;
// DIR/best holds the checkpoint of the epoch with the best val_accuracy;
// the epoch lines are Keras-like.
func TestTrainValidationCallbacks(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.npz")
	writeData(t, data, 1, 1)
	cfg := filepath.Join(dir, "run.yaml")
	write(t, cfg, fitConfig(data, "early_stopping: {monitor: val_loss, patience: 1}\nbest_checkpoint: {monitor: val_accuracy}\n"))
	out := filepath.Join(dir, "out")
	code, stdout, stderr := qat(t, context.Background(), "train", "--config", cfg, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	rows := readHistoryCSV(t, filepath.Join(out, "history.csv"))
	es := &loop.EarlyStopping{Monitor: "val_loss", Patience: 1}
	if err := es.Check(loop.FitMetrics(true)); err != nil {
		t.Fatal(err)
	}
	stop, bestAcc, bestEpoch := 8, float32(-1), 0
	for i, r := range rows {
		if r["epoch"] != strconv.Itoa(i+1) || r["step"] != strconv.Itoa(3*(i+1)) {
			t.Errorf("row %d: epoch %s step %s", i+1, r["epoch"], r["step"])
		}
		for _, k := range []string{"loss", "accuracy", "val_loss", "val_accuracy", "val_float_loss", "val_float_accuracy", "learning_rate"} {
			f32col(t, r, k)
		}
		if s, _ := es.Observe(i+1, f32col(t, r, "val_loss")); s && stop == 8 {
			stop = i + 1
		}
		if a := f32col(t, r, "val_accuracy"); a > bestAcc {
			bestAcc, bestEpoch = a, i+1
		}
		line := "epoch " + r["epoch"] + "/8: loss " + strconv.FormatFloat(float64(f32col(t, r, "loss")), 'f', 4, 64)
		if !strings.Contains(stderr, line+" accuracy ") {
			t.Errorf("stderr lacks %q:\n%s", line, stderr)
		}
	}
	if len(rows) != stop {
		t.Errorf("%d epochs ran; EarlyStopping(patience=1) on their val_loss stops at %d", len(rows), stop)
	}
	ckpts, err := loop.Checkpoints(filepath.Join(out, "best"))
	if err != nil || len(ckpts) != 1 || ckpts[0].Step != 3*bestEpoch {
		t.Errorf("best/ holds %v (%v); want the checkpoint of epoch %d (step %d)", ckpts, err, bestEpoch, 3*bestEpoch)
	}
	if !strings.Contains(stdout, "best checkpoint: epoch "+strconv.Itoa(bestEpoch)+" (val_accuracy ") {
		t.Errorf("stdout %q does not name the best epoch %d", stdout, bestEpoch)
	}
	// TensorBoard: each epoch's figures under Keras's epoch_ tags, equal
	// to history.csv's, in train/ and validation/.
	for _, c := range []struct{ run, tag, col string }{
		{"train", "epoch_loss", "loss"}, {"train", "epoch_accuracy", "accuracy"}, {"train", "epoch_learning_rate", "learning_rate"},
		{"validation", "epoch_loss", "val_loss"}, {"validation", "epoch_accuracy", "val_accuracy"},
		{"validation", "epoch_float_loss", "val_float_loss"}, {"validation", "epoch_float_accuracy", "val_float_accuracy"},
	} {
		run, err := tbevents.Read(filepath.Join(out, "logs", c.run))
		if err != nil {
			t.Fatal(err)
		}
		pts := run.Scalars[c.tag]
		if len(pts) != len(rows) {
			t.Errorf("%s %s: %d events, want one per epoch (%d)", c.run, c.tag, len(pts), len(rows))
			continue
		}
		for i, p := range pts {
			if p.Step() != int64(i+1) || p.Value() != f32col(t, rows[i], c.col) {
				t.Errorf("%s %s event %d: step %d value %v; history.csv epoch %d has %s %v", c.run, c.tag, i, p.Step(), p.Value(), i+1, c.col, f32col(t, rows[i], c.col))
			}
		}
	}
	t.Logf("%d epochs; stdout:\n%s", len(rows), stdout)
}

// A run without validation data writes history.csv with empty val_
// columns.
func TestTrainHistoryWithoutValidation(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.npz")
	writeData(t, data, 1, 1)
	write(t, filepath.Join(dir, "run.yaml"), mlpConfig(data, 16, 6))
	out := filepath.Join(dir, "out")
	if code, stdout, stderr := qat(t, context.Background(), "train", "--config", filepath.Join(dir, "run.yaml"), "--out", out); code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	rows := readHistoryCSV(t, filepath.Join(out, "history.csv"))
	if len(rows) != 2 || rows[1]["step"] != "6" || rows[0]["val_loss"] != "" || rows[0]["val_float_accuracy"] != "" || rows[0]["learning_rate"] != "0.001" {
		t.Errorf("history.csv rows %v", rows)
	}
}

// Bad validation and callback settings fail before anything is written,
// naming the key.
func TestTrainFitBadInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.npz")
	writeData(t, path, 1, 1)
	wrong := filepath.Join(dir, "wrong.npz")
	writeData(t, wrong, 2, 1)
	bad := data.Weights{"x": {Shape: []int64{5, 4}, Data: make([]float32, 20)}, "y": {Shape: []int64{5, 3}, Data: make([]float32, 15)}}
	if err := data.WriteNPZ(filepath.Join(dir, "bad.npz"), bad); err != nil {
		t.Fatal(err)
	}
	noVal := strings.Replace(fitConfig(path, ""), "validation_split: 0.25\n", "", 1)
	for _, c := range []struct {
		name, config string
		args         []string
		want         string
	}{
		{"monitor typo", fitConfig(path, "early_stopping: {monitor: val_los}\n"), nil,
			`early_stopping: monitor "val_los" is not a metric of this run; the metrics are loss, accuracy, val_loss, val_accuracy, val_float_loss, val_float_accuracy, learning_rate`},
		{"val_loss without validation", noVal + "early_stopping: {patience: 2}\n", nil,
			`early_stopping: monitor "val_loss" is not a metric of this run (val_ metrics need validation data: validation_split or validation)`},
		{"best checkpoint without validation", noVal + "best_checkpoint: {monitor: val_accuracy}\n", nil, `best_checkpoint: monitor "val_accuracy" is not a metric`},
		{"negative patience", fitConfig(path, "early_stopping: {patience: -2}\n"), nil, "early_stopping: patience -2 must be >= 0"},
		{"split outside (0, 1)", noVal, []string{"--validation-split", "1.5"}, "--validation-split 1.5 must be in (0, 1)"},
		{"split leaving no training data", noVal, []string{"--validation-split", "0.99"}, "validation_split 0.99 of 64 examples leaves 0 for training and 64 for validation"},
		{"split leaving less than a batch", noVal, []string{"--validation-split", "0.8"}, "validation_split 0.8 leaves 12 training examples, fewer than batch_size 16"},
		{"validation npz of another shape", noVal, []string{"--validation-data", filepath.Join(dir, "bad.npz")}, "validation: " + filepath.Join(dir, "bad.npz") + ": data: x has shape [5 4], the model needs [N, 10]"},
		{"missing validation npz", noVal, []string{"--validation-data", filepath.Join(dir, "none.npz")}, "validation: "},
		{"split and file", noVal, []string{"--validation-split", "0.2", "--validation-data", wrong}, "--validation-split 0.2 and --validation-data " + wrong + ": give one"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".yaml")
			write(t, cfg, c.config)
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(c.name, " ", "_"))
			trainFails(t, out, "", append([]string{"train", "--config", cfg, "--out", out}, c.args...)...)
			_, _, stderr := qat(t, context.Background(), append([]string{"train", "--config", cfg, "--out", out}, c.args...)...)
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q\nwant it to contain %q", stderr, c.want)
			}
		})
	}
}

// A run that diverges with validation and callbacks on keeps the last
// good checkpoint whole and reports it: --resume continues from it.
func TestTrainDivergesWithCallbacks(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.npz")
	writeData(t, data, 1, 1)
	cfg := filepath.Join(dir, "run.yaml")
	write(t, cfg, fitConfig(data, "early_stopping: {patience: 3}\nbest_checkpoint: {monitor: val_loss}\n"))
	out := filepath.Join(dir, "out")
	code, _, stderr := qat(t, context.Background(), "train", "--config", cfg, "--lr", "1e30", "--out", out)
	ckpts, err := loop.Checkpoints(filepath.Join(out, "checkpoints"))
	if err != nil || len(ckpts) == 0 {
		t.Fatalf("exit %d, checkpoints %v (%v)\n%s", code, ckpts, err, stderr)
	}
	kept := ckpts[0]
	want := "the last good one (checkpoint " + kept.Path + ", weights.npz, ranges.npz)"
	if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "holds the state after step "+strconv.Itoa(kept.Step)) {
		t.Fatalf("exit %d, stderr %q\nwant it to name %s", code, stderr, kept.Path)
	}
	for _, r := range readHistoryCSV(t, filepath.Join(out, "history.csv")) {
		if s, _ := strconv.Atoi(r["step"]); s > kept.Step {
			t.Errorf("history.csv has epoch %s at step %d, past the state kept (step %d)", r["epoch"], s, kept.Step)
		}
	}
	t.Logf("diverged: %s", strings.TrimSpace(stderr))
	// The kept state restores whole, and the same next step diverges the
	// same way again.
	first := stderr[strings.Index(stderr, "qat: step "):strings.Index(stderr, "; stopping")]
	code, stdout, stderr := qat(t, context.Background(), "train", "--config", cfg, "--lr", "1e30", "--resume", "--out", out)
	if code != 1 || !strings.Contains(stderr, "qat: resuming from "+kept.Path) || !strings.Contains(stderr, first+"; stopping") {
		t.Fatalf("resume: exit %d\nstdout: %s\nstderr: %s\nwant a resume from %s and %q", code, stdout, stderr, kept.Path, first)
	}
}

// metrics.json's history holds the rows of history.csv, floats that read
// back to the same float32 and null for a metric an epoch lacks.
func TestMetricsJSONHistory(t *testing.T) {
	nan := float32(math.NaN())
	h := []loop.EpochResult{{Epoch: 1, Step: 3, Loss: 0.1, Accuracy: 0.5, ValLoss: nan, ValAccuracy: nan, ValFloatLoss: nan, ValFloatAccuracy: nan, LearningRate: 0.001}}
	b, err := json.Marshal(metrics{TestExamples: 1, History: historyRows(h)})
	if err != nil {
		t.Fatal(err)
	}
	want := `"history":[{"epoch":1,"step":3,"loss":0.1,"accuracy":0.5,"val_loss":null,"val_accuracy":null,"val_float_loss":null,"val_float_accuracy":null,"learning_rate":0.001}]`
	if !strings.Contains(string(b), want) {
		t.Errorf("metrics.json %s\nwant %s", b, want)
	}
}
