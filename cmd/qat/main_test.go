package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
)

// qat runs the command line in-process and returns its exit code, stdout
// and stderr.
func qat(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// trainFails runs the command line args and checks that it failed as bad
// input should: exit 1, nothing on stdout, one line on stderr starting
// "qat: "+want, and no output folder out.
func trainFails(t *testing.T, out, want string, args ...string) {
	t.Helper()
	code, stdout, stderr := qat(t, context.Background(), args...)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.HasPrefix(stderr, "qat: "+want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q\nwant one line starting %q", stderr, "qat: "+want)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s was created for a failed run", out)
	}
}

// exported trains the article's example for steps steps into dir/run and
// exports it, and returns the run folder and its SavedModel.
func exported(t *testing.T, dir, example, steps string) (run, sm string) {
	t.Helper()
	ctx := context.Background()
	run = filepath.Join(dir, "run")
	if code, _, stderr := qat(t, ctx, "train", "--example", example, "--steps", steps, "--out", run); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	if code, _, stderr := qat(t, ctx, "export", "--from", run, "--example", example); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	return run, filepath.Join(run, "saved_model")
}

// readLosses checks losses.csv's header and returns its losses.
func readLosses(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != "step,loss" {
		t.Fatalf("losses.csv header %q", lines[0])
	}
	var out []float32
	for i, l := range lines[1:] {
		step, loss, ok := strings.Cut(l, ",")
		v, err := strconv.ParseFloat(loss, 32)
		if !ok || step != strconv.Itoa(i+1) || err != nil {
			t.Fatalf("losses.csv row %d: %q", i+1, l)
		}
		out = append(out, float32(v))
	}
	return out
}

func TestTrainExample1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run") // does not exist yet
	code, stdout, stderr := qat(t, context.Background(), "train", "--example", "1", "--steps", "5", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "example 1: 10 -> 2") || !strings.Contains(stdout, "(step 5)") {
		t.Errorf("stdout %q", stdout)
	}
	if !strings.Contains(stderr, "step 5/5 loss ") {
		t.Errorf("stderr (not a terminal) should have progress lines: %q", stderr)
	}
	if losses := readLosses(t, filepath.Join(dir, "losses.csv")); len(losses) != 5 {
		t.Errorf("losses.csv has %d rows, want 5", len(losses))
	}
	for _, name := range []string{"weights.npz", "initial_weights.npz"} {
		w, err := data.ReadNPZ(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if a := w["layer1/weight_fp"]; !reflect.DeepEqual(a.Shape, []int64{10, 2}) {
			t.Errorf("%s: layer1/weight_fp has shape %v, want [10 2]", name, a.Shape)
		}
		if a := w["layer1/bias_fp"]; !reflect.DeepEqual(a.Shape, []int64{2}) {
			t.Errorf("%s: layer1/bias_fp has shape %v, want [2]", name, a.Shape)
		}
	}
}

// TestTrainConfig runs a config whose data and init paths are relative to
// the config file, and checks that --init values are what training started
// from.
func TestTrainConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := "inputs: 3\nsteps: 3\noptimizer: {learning_rate: 0.05}\ndata: {npz: d.npz}\ninit: w.npz\n" +
		"layers:\n  - {name: a, units: 4, weights: {min: -1, max: 1, num_bits: 4}}\n  - {name: b, units: 2, output: {min: -2, max: 2}}\n"
	write(t, filepath.Join(dir, "run.yaml"), cfg)
	ds, err := data.Synthetic(8, 3, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := data.WriteNPZ(filepath.Join(dir, "d.npz"), map[string]data.Array{"x": ds.X, "y": ds.Y}); err != nil {
		t.Fatal(err)
	}
	bias := data.Array{Shape: []int64{2}, Data: []float32{0.25, -0.5}}
	given := map[string]data.Array{ // --init gives every variable
		"a/weight_fp": {Shape: []int64{3, 4}, Data: []float32{.1, .2, .3, .4, .5, .6, -.1, -.2, -.3, -.4, -.5, -.6}},
		"a/bias_fp":   {Shape: []int64{4}, Data: []float32{0, .1, 0, -.1}},
		"b/weight_fp": {Shape: []int64{4, 2}, Data: []float32{.3, -.3, .2, -.2, .1, -.1, .4, -.4}},
		"b/bias_fp":   bias,
	}
	if err := data.WriteNPZ(filepath.Join(dir, "w.npz"), given); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := qat(t, context.Background(), "train", "--config", filepath.Join(dir, "run.yaml"), "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "3 -> 4 -> 2, 8 examples, adam lr 0.05, 3 steps") {
		t.Errorf("stdout %q", stdout)
	}
	if n := len(readLosses(t, filepath.Join(out, "losses.csv"))); n != 3 {
		t.Errorf("%d losses, want 3", n)
	}
	init, err := data.ReadNPZ(filepath.Join(out, "initial_weights.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(init, given) {
		t.Errorf("initial weights %v, want %v", init, given)
	}
}

func TestTrainInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	code, _, stderr := qat(t, ctx, "train", "--example", "2", "--steps", "5", "--out", out)
	if code != 1 || !strings.HasPrefix(stderr, "qat: interrupted after step 0 of 5") || !strings.Contains(stderr, "(continue with --resume)") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if n := len(readLosses(t, filepath.Join(out, "losses.csv"))); n != 0 {
		t.Errorf("%d losses, want 0", n)
	}
	// The interrupted run left a checkpoint; --resume finishes the run.
	ckpt := filepath.Join(out, "checkpoints", "ckpt-000000000")
	if _, err := os.Stat(ckpt); err != nil {
		t.Fatalf("no checkpoint of the interrupted run: %v", err)
	}
	code, stdout, stderr := qat(t, context.Background(), "train", "--example", "2", "--steps", "5", "--out", out, "--resume")
	if code != 0 || !strings.Contains(stderr, "qat: resuming from "+ckpt+" (step 0 of 5)") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if n := len(readLosses(t, filepath.Join(out, "losses.csv"))); n != 5 {
		t.Errorf("%d losses after resuming, want 5", n)
	}
}

func TestTrainErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "malformed.yaml"), "inputs: 10\nlayers: [{units: 2}\n")
	write(t, filepath.Join(dir, "bits.yaml"), "inputs: 10\nlayers:\n  - name: first\n    units: 2\n    weights: {min: -1, max: 1, num_bits: 17}\n")
	write(t, filepath.Join(dir, "unknown.yaml"), "inputs: 10\nlayers: [{units: 2, dropout: 0.5}]\n")
	bad := map[string]data.Array{
		"x": {Shape: []int64{4, 3}, Data: make([]float32, 12)},
		"y": {Shape: []int64{4, 2}, Data: make([]float32, 8)},
	}
	if err := data.WriteNPZ(filepath.Join(dir, "bad.npz"), bad); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // the start of stderr after "qat: "
	}{
		{"example 4", []string{"--example", "4"}, "--example 4: the article has examples 1, 2 and 3"},
		{"example 0", []string{"--example", "0"}, "--example 0: the article has examples 1, 2 and 3"},
		{"malformed config", []string{"--config", filepath.Join(dir, "malformed.yaml")}, filepath.Join(dir, "malformed.yaml") + ": malformed YAML: line 1"},
		{"num_bits 17", []string{"--config", filepath.Join(dir, "bits.yaml")}, filepath.Join(dir, "bits.yaml") + ": layer 1 (first): weights quantizer: num_bits 17 is outside 2..16"},
		{"unknown key", []string{"--config", filepath.Join(dir, "unknown.yaml")}, filepath.Join(dir, "unknown.yaml") + `: line 2: unknown key "dropout" in a layer`},
		{"missing config", []string{"--config", filepath.Join(dir, "nope.yaml")}, "config: open " + filepath.Join(dir, "nope.yaml")},
		{"data shape", []string{"--example", "1", "--data", filepath.Join(dir, "bad.npz")}, filepath.Join(dir, "bad.npz") + ": data: x has shape [4 3], the model needs [N, 10]"},
		{"missing data", []string{"--data", filepath.Join(dir, "nope.npz")}, "read " + filepath.Join(dir, "nope.npz")},
		{"init names", []string{"--example", "1", "--init", filepath.Join(dir, "bad.npz")}, filepath.Join(dir, "bad.npz") + `: initial weights name "x", which the model does not have`},
		{"steps", []string{"--steps", "0"}, "--steps 0 must be > 0"},
		{"lr", []string{"--lr", "-1"}, "--lr -1 must be finite and > 0"},
		{"checkpoint-every", []string{"--checkpoint-every", "-1"}, "--checkpoint-every -1 must be >= 0"},
		{"log-every", []string{"--log-every", "0"}, "--log-every 0 must be > 0"},
		{"bad flag value", []string{"--steps", "many"}, `invalid argument "many" for "--steps"`},
		{"unknown flag", []string{"--epoch", "3"}, "unknown flag: --epoch (see qat train --help)"},
		{"epochs without batches", []string{"--epochs", "3"}, "--epochs 3 needs a config with batch_size (example 3 has none; give --steps instead)"},
		{"positional", []string{"extra"}, `unknown command "extra" for "qat train"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			trainFails(t, out, tc.want, append([]string{"train", "--out", out}, tc.args...)...)
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := qat(t, context.Background(), "version")
	if code != 0 || !strings.HasPrefix(stdout, "qat on TensorFlow 2.") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// qat train with SGD (Nesterov momentum, exponential decay): the run
// reports it, and the
// run's config.yaml names it with SGD's keys only and reads back the same.
func TestTrainSGD(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "run.yaml"), "inputs: 3\nsteps: 3\noptimizer: {name: sgd, learning_rate: 0.1, momentum: 0.9, nesterov: true, schedule: {name: exponential_decay, decay_steps: 2, decay_rate: 0.5}}\n"+
		"data: {examples: 8}\nlayers:\n  - {name: a, units: 4}\n  - {name: b, units: 2}\n")
	out := filepath.Join(dir, "out")
	code, stdout, stderr := qat(t, context.Background(), "train", "--config", filepath.Join(dir, "run.yaml"), "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "8 examples, sgd lr 0.1 momentum 0.9 nesterov exponential_decay, 3 steps") {
		t.Errorf("stdout %q", stdout)
	}
	if n := len(readLosses(t, filepath.Join(out, "losses.csv"))); n != 3 {
		t.Errorf("%d losses, want 3", n)
	}
	written, err := models.LoadConfig(filepath.Join(out, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := models.OptimizerConfig{Name: "sgd", LearningRate: 0.1, Momentum: 0.9, Nesterov: true,
		Schedule: &models.ScheduleConfig{Name: "exponential_decay", DecaySteps: 2, DecayRate: 0.5}}
	if !reflect.DeepEqual(written.Optimizer, want) {
		t.Errorf("config.yaml's optimizer %+v, want %+v", written.Optimizer, want)
	}
}
