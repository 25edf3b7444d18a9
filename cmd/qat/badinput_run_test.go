package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/testutil"
)

// mlpConfig is a float MLP on 64 synthetic examples in batches of 16.
func mlpConfig(data string, batch, steps int) string {
	return fmt.Sprintf("inputs: 10\nsteps: %d\nbatch_size: %d\ndata: {npz: %s}\nlayers:\n"+
		"  - {name: a, type: dense, units: 16, activation: relu}\n  - {name: b, type: dense, units: 3}\n", steps, batch, data)
}

// writeData writes 64 synthetic examples (10 inputs, 3 classes) drawn
// with seed, their x scaled by scale, to path.
func writeData(t *testing.T, path string, seed uint64, scale float32) {
	t.Helper()
	d, err := data.Synthetic(64, 10, 3, seed)
	if err != nil {
		t.Fatal(err)
	}
	for i := range d.X.Data {
		d.X.Data[i] *= scale
	}
	if err := data.WriteNPZ(path, map[string]data.Array{"x": d.X, "y": d.Y}); err != nil {
		t.Fatal(err)
	}
}

// hashTree returns path -> SHA-256 for every file under root and path ->
// "dir" for every folder, so that a new, changed or removed entry shows.
func hashTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// copyTree copies the folder src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFailedCommandsLeaveRunAlone runs failing commands against the
// folder of an earlier run (an MLP trained 6 steps with a checkpoint every
// 3) and checks that each fails with its message and leaves every file
// and folder of the run as it was (hashed before and after), and that
// `qat export --from` still works on it.
func TestFailedCommandsLeaveRunAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data.npz")
	writeData(t, data, 1, 1)
	writeData(t, filepath.Join(dir, "other.npz"), 2, 1)
	writeData(t, filepath.Join(dir, "huge.npz"), 1, 1e30) // NaN at step 1
	cfg := filepath.Join(dir, "mlp.yaml")
	write(t, cfg, mlpConfig(data, 16, 6))
	write(t, filepath.Join(dir, "batch8.yaml"), mlpConfig(data, 8, 6))
	write(t, filepath.Join(dir, "bad.yaml"), "inputs: 10\nlayers: [{units: 2}\n")
	base := filepath.Join(dir, "base")
	if code, stdout, stderr := qat(t, ctx, "train", "--config", cfg, "--checkpoint-every", "3", "--out", base); code != 0 {
		t.Fatalf("the earlier run: exit %d\n%s\n%s", code, stdout, stderr)
	}

	for _, tc := range []struct {
		name  string
		args  []string // {out} is replaced by the run's folder
		setup func(t *testing.T, run string)
		want  string // in stderr; " ... " separates parts that must appear in order
	}{
		{"resume another model", []string{"train", "--example", "2", "--steps", "6", "--out", "{out}", "--resume"}, nil,
			"it is of another model: it lacks 6 variable(s) of this model (layer1/weight_fp, "},
		{"resume another batch size", []string{"train", "--config", filepath.Join(dir, "batch8.yaml"), "--out", "{out}", "--resume"}, nil,
			"it was trained with batch size 16, this trainer has 8: resuming would not continue the same run"},
		{"resume other data", []string{"train", "--config", cfg, "--data", filepath.Join(dir, "other.npz"), "--out", "{out}", "--resume"}, nil,
			"it was trained on other data (_data/sha256 sha256:"},
		{"resume past the steps", []string{"train", "--config", cfg, "--steps", "3", "--out", "{out}", "--resume"}, nil,
			"is at step 6, past this run's 3 steps (raise --steps to train further)"},
		{"new run fails at step 1", []string{"train", "--config", cfg, "--data", filepath.Join(dir, "huge.npz"), "--out", "{out}"}, nil,
			"qat: step 1: its update made a variable NaN or infinite (loss  ... ); stopping (lower the learning rate or check the data); no step of this run succeeded, so nothing was written ({out} is as it was)\n"},
		{"read-only folder, resume", []string{"train", "--config", cfg, "--steps", "9", "--out", "{out}", "--resume"}, readOnly(""),
			"qat: output folder {out} is not writable: "},
		{"read-only folder, new run", []string{"train", "--config", cfg, "--out", "{out}"}, readOnly(""),
			"qat: output folder {out} is not writable: "},
		{"read-only checkpoints", []string{"train", "--config", cfg, "--steps", "9", "--out", "{out}", "--resume"}, readOnly("checkpoints"),
			"qat: output folder {out}/checkpoints is not writable: "},
		{"bad config", []string{"train", "--config", filepath.Join(dir, "bad.yaml"), "--out", "{out}"}, nil, "malformed YAML"},
		{"missing data", []string{"train", "--config", cfg, "--data", filepath.Join(dir, "nope.npz"), "--out", "{out}"}, nil, "nope.npz"},
		{"steps 0", []string{"train", "--config", cfg, "--steps", "0", "--out", "{out}"}, nil, "qat: --steps 0 must be > 0"},
		{"lr -1", []string{"train", "--config", cfg, "--lr", "-1", "--out", "{out}", "--resume"}, nil, "qat: --lr -1 must be finite and > 0"},
		{"unknown flag", []string{"train", "--config", cfg, "--epoch", "3", "--out", "{out}"}, nil, "unknown flag: --epoch"},
		{"example 4", []string{"train", "--example", "4", "--out", "{out}"}, nil, "qat: --example 4: the article has examples 1, 2 and 3"},
		{"out empty", []string{"train", "--config", cfg, "--out", ""}, nil, `qat: --out is empty: give a DIR, or leave the flag out`},
		{"export onto an existing folder", []string{"export", "--from", "{out}", "--out", "{out}/checkpoints"}, nil, "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := filepath.Join(t.TempDir(), "run")
			copyTree(t, base, run)
			if tc.setup != nil {
				tc.setup(t, run)
			}
			before := hashTree(t, run)
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "{out}", run)
			}
			code, _, stderr := qat(t, ctx, args...)
			want := strings.ReplaceAll(tc.want, "{out}", run)
			if code != 1 || !inOrder(stderr, strings.Split(want, " ... ")) {
				t.Errorf("exit %d, stderr %q\nwant exit 1 and %q", code, stderr, want)
			}
			if after := hashTree(t, run); !reflect.DeepEqual(before, after) {
				t.Errorf("the run folder changed:\nbefore %v\nafter  %v", before, after)
			}
			if code, _, stderr := qat(t, ctx, "export", "--from", run, "--out", filepath.Join(t.TempDir(), "sm")); code != 0 {
				t.Errorf("export --from the run afterwards: exit %d: %s", code, stderr)
			}
		})
	}
}

// readOnly returns a setup that makes the run's folder (or a folder in
// it) read-only.
func readOnly(sub string) func(t *testing.T, run string) {
	return func(t *testing.T, run string) { testutil.ReadOnly(t, filepath.Join(run, sub)) }
}

// TestTrainNaNKeepsLastGood trains at a learning rate of 1e30, which
// makes the loss NaN at step 2: the error names the step and the folder;
// losses.csv has steps 1 and 2 (NaN); the checkpoint and weights.npz hold
// the state after step 1, which exports. Resuming from it fails at step 2
// again and writes nothing.
func TestTrainNaNKeepsLastGood(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ds := filepath.Join(dir, "data.npz")
	writeData(t, ds, 1, 1)
	cfg := filepath.Join(dir, "mlp.yaml")
	write(t, cfg, mlpConfig(ds, 16, 20))
	out := filepath.Join(dir, "run")
	code, stdout, stderr := qat(t, ctx, "train", "--config", cfg, "--lr", "1e30", "--out", out)
	ckpt := filepath.Join(out, "checkpoints", "ckpt-000000001")
	want := "qat: step 2: loss is NaN; stopping (lower the learning rate or check the data); " + out +
		" holds the state after step 1, the last good one (checkpoint " + ckpt + ", weights.npz, ranges.npz) and losses.csv up to and including step 2\n"
	if code != 1 || !strings.HasSuffix(stderr, want) {
		t.Fatalf("exit %d\nstdout %s\nstderr %q\nwant it to end %q", code, stdout, stderr, want)
	}
	losses := readLosses(t, filepath.Join(out, "losses.csv"))
	if len(losses) != 2 || math.IsNaN(float64(losses[0])) || !math.IsNaN(float64(losses[1])) {
		t.Errorf("losses.csv %v, want a finite loss then NaN", losses)
	}
	if got := listCheckpoints(t, out); !reflect.DeepEqual(got, []string{"ckpt-000000001"}) {
		t.Errorf("checkpoints %v", got)
	}
	w, err := data.ReadNPZ(filepath.Join(out, "weights.npz"))
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range w {
		for i, v := range a.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("weights.npz: %s[%d] is %v", name, i, v)
			}
		}
	}
	if code, _, stderr := qat(t, ctx, "export", "--from", out); code != 0 {
		t.Errorf("export: exit %d: %s", code, stderr)
	}
	before := hashTree(t, out)
	code, _, stderr = qat(t, ctx, "train", "--config", cfg, "--lr", "1e30", "--out", out, "--resume")
	if want := "qat: step 2: loss is NaN; stopping (lower the learning rate or check the data); no step of this run succeeded, so nothing was written (" + out + " is as it was)\n"; code != 1 || !strings.HasSuffix(stderr, want) {
		t.Errorf("resume: exit %d, stderr %q\nwant it to end %q", code, stderr, want)
	}
	if after := hashTree(t, out); !reflect.DeepEqual(before, after) {
		t.Errorf("the failed resume changed the folder:\nbefore %v\nafter  %v", before, after)
	}
}

// TestRunFolderModes checks that everything in a run folder (checkpoints
// too) is readable by other users: files 0644 and folders 0755, less the
// umask; and that the last line names every file written.
func TestRunFolderModes(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := qat(t, context.Background(), "train", "--example", "1", "--steps", "4", "--checkpoint-every", "2", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "wrote losses.csv, history.csv, ranges.csv, weights.npz, ranges.npz, initial_weights.npz, config.yaml and report.html to " + out + ", checkpoint " +
		filepath.Join(out, "checkpoints", "ckpt-000000004") + "\n"; !strings.HasSuffix(stdout, want) {
		t.Errorf("stdout %q\nwant it to end %q", stdout, want)
	}
	mask := syscall.Umask(0)
	syscall.Umask(mask)
	n := 0
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := os.FileMode(0o644 &^ mask)
		if d.IsDir() {
			want = os.FileMode(0o755 &^ mask)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (umask %03o)", p, info.Mode().Perm(), want, mask)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("only %d entries in %s", n, out)
	}
}

// inOrder reports whether s holds the parts one after the other.
func inOrder(s string, parts []string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}
