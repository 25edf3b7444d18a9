package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/tbevents"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// tbConfig is smallCNNConfig (per-channel conv kernels, a per-tensor
// dense kernel, activation ranges) with a decaying learning rate.
func tbConfig(steps int) string {
	return strings.Replace(smallCNNConfig(1, 16, steps), "optimizer: {name: adam, learning_rate: 0.001}",
		"optimizer: {name: adam, learning_rate: 0.001, schedule: {name: exponential_decay, decay_steps: 2, decay_rate: 0.5}}", 1)
}

// qat train writes DIR/logs/train with TensorFlow's summary ops, and
// TensorBoard's own reader finds in it, at every --log-every step and the
// last: the loss of losses.csv (same float32), the learning rate of the
// schedule, steps per second, a histogram of every weight of weights.npz
// and of its fake-quantized value, and each quantizer's range, which at
// the last step is ranges.npz's.
func TestTrainTensorBoard(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cnn.yaml")
	if err := os.WriteFile(cfg, []byte(tbConfig(7)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	code, stdout, stderr := qat(t, context.Background(), "train", "--config", cfg, "--log-every", "3", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	logs := filepath.Join(out, "logs")
	if !strings.Contains(stdout, "TensorBoard log in "+logs+" (tensorboard --logdir "+logs+")\n") {
		t.Errorf("stdout %q does not name the log", stdout)
	}
	run, err := tbevents.Read(filepath.Join(logs, "train"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []int64{3, 6, 7}
	losses := readLosses(t, filepath.Join(out, "losses.csv"))
	rates := scheduleRates(t, 7)
	for _, tag := range []string{"loss", "learning_rate", "steps_per_second"} {
		pts := run.Scalars[tag]
		if len(pts) != len(steps) {
			t.Fatalf("%s: %d events, want steps %v", tag, len(pts), steps)
		}
		for i, p := range pts {
			if p.Step() != steps[i] {
				t.Errorf("%s event %d at step %d, want %d", tag, i, p.Step(), steps[i])
			}
			switch want := map[string]float32{"loss": losses[steps[i]-1], "learning_rate": rates[steps[i]-1]}; tag {
			case "steps_per_second":
				if !(p.Value() > 0) {
					t.Errorf("steps_per_second at step %d: %g", p.Step(), p.Value())
				}
			default:
				if p.Value() != want[tag] {
					t.Errorf("%s at step %d: %g in the event file, %g in the run", tag, p.Step(), p.Value(), want[tag])
				}
			}
		}
	}
	weights, err := data.ReadNPZ(filepath.Join(out, "weights.npz"))
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range weights {
		h := lastHistogram(t, run, "weights/"+name, steps)
		if h.Num != float64(len(w.Data)) || h.Min != float64(slices.Min(w.Data)) || h.Max != float64(slices.Max(w.Data)) {
			t.Errorf("weights/%s at step 7: %g values in [%g, %g]; weights.npz has %d in [%g, %g]",
				name, h.Num, h.Min, h.Max, len(w.Data), slices.Min(w.Data), slices.Max(w.Data))
		}
	}
	for _, name := range []string{"c1/kernel", "c2/kernel", "d/kernel"} {
		h := lastHistogram(t, run, "quantized/"+name, steps)
		if w := weights[name]; h.Num != float64(len(w.Data)) {
			t.Errorf("quantized/%s: %g values, want %d", name, h.Num, len(w.Data))
		}
	}
	ranges, err := data.ReadNPZ(filepath.Join(out, "ranges.npz"))
	if err != nil {
		t.Fatal(err)
	}
	quantizers := 0
	for name, r := range ranges {
		q, ok := strings.CutSuffix(name, "_min")
		bound := "min"
		if !ok {
			q, _ = strings.CutSuffix(name, "_max")
			bound = "max"
		}
		tag := "quantizer/" + q + "/" + bound
		if len(r.Data) == 1 { // per tensor: scalars
			pts := run.Scalars[tag]
			if len(pts) != len(steps) || pts[len(pts)-1].Value() != r.Data[0] {
				t.Errorf("%s: %v, want %d events ending with ranges.npz's %g", tag, pts, len(steps), r.Data[0])
			}
			if len(run.Scalars["quantizer/"+q+"/scale"]) != len(steps) {
				t.Errorf("quantizer/%s/scale: %d events, want %d", q, len(run.Scalars["quantizer/"+q+"/scale"]), len(steps))
			}
		} else { // per channel: histograms over the channels
			h := lastHistogram(t, run, tag, steps)
			if h.Num != float64(len(r.Data)) || h.Min != float64(slices.Min(r.Data)) || h.Max != float64(slices.Max(r.Data)) {
				t.Errorf("%s at step 7: %g values in [%g, %g]; ranges.npz has %d in [%g, %g]",
					tag, h.Num, h.Min, h.Max, len(r.Data), slices.Min(r.Data), slices.Max(r.Data))
			}
			lastHistogram(t, run, "quantizer/"+q+"/scale", steps)
		}
		quantizers++
	}
	if quantizers < 10 {
		t.Errorf("only %d range variables in ranges.npz", quantizers)
	}
}

// lastHistogram checks that tag has a histogram at each step and returns
// the last.
func lastHistogram(t *testing.T, run *tbevents.Run, tag string, steps []int64) tbevents.Histogram {
	t.Helper()
	hs := run.Histograms[tag]
	var got []int64
	for _, h := range hs {
		got = append(got, h.Step)
	}
	if !slices.Equal(got, steps) {
		t.Fatalf("histogram %s at steps %v, want %v", tag, got, steps)
	}
	return hs[len(hs)-1]
}

// scheduleRates is the learning rate of tbConfig's schedule at steps
// 1..n, computed with the schedule's ops in eager numerics (which
// loop's schedule tests check against Keras).
func scheduleRates(t *testing.T, n int) []float32 {
	t.Helper()
	g := tfgraph.NewGraph()
	it := g.Placeholder("iterations", tf.Int64, []int64{})
	lr := loop.ExponentialDecay{Initial: 0.001, DecaySteps: 2, DecayRate: 0.5}.Rate(g, it)
	sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1, Numerics: tfgraph.EagerNumerics})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out := make([]float32, n)
	for i := range out {
		v, _ := tf.NewTensor(int64(i))
		res, err := sess.Run(map[tf.Output]*tf.Tensor{it: v}, []tf.Output{lr}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = res[0].Value().(float32)
	}
	return out
}

// A log folder that cannot be written stops qat train before its first
// step, with an error naming the folder, and leaves no results.
func TestTrainTensorBoardBadFolder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(out, "logs")
	if err := os.WriteFile(logs, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := qat(t, context.Background(), "train", "--example", "1", "--steps", "3", "--out", out)
	want := "qat: tensorboard: cannot make the log folder: mkdir " + logs + ": not a directory\n"
	if code != 1 || stderr != want || stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, %q", code, stdout, stderr, want)
	}
	entries, err := os.ReadDir(out)
	if err != nil || len(entries) != 1 {
		t.Errorf("run folder holds %v (%v), want only the logs file", entries, err)
	}
}
