package loop_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/loop"
)

// esCase is an EarlyStopping setting and the monitored values per epoch.
type esCase struct {
	Name           string    `json:"-"`
	Monitor        string    `json:"monitor"`
	Mode           string    `json:"mode"`
	MinDelta       float64   `json:"min_delta"`
	Patience       int       `json:"patience"`
	Baseline       *float64  `json:"baseline"`
	StartFromEpoch int       `json:"start_from_epoch"`
	Values         []float32 `json:"values"`
	Stopped, Best  int       `json:"-"` // the 1-based epochs expected
}

// EarlyStopping fed sequences of a metric stops at the epoch (and finds
// the best epoch) that Keras 3's keras.callbacks.EarlyStopping does for
// the same sequence; each case's expected epochs are also written out.
func TestEarlyStoppingMatchesKeras(t *testing.T) {
	base := 0.5
	cases := []esCase{
		{Name: "patience 0 stops at the first epoch without improvement", Monitor: "val_loss", Mode: "auto", Values: []float32{1, 0.9, 0.95, 0.8}, Stopped: 3, Best: 2},
		{Name: "never at the first epoch", Monitor: "val_loss", Mode: "auto", Values: []float32{1, 1.1}, Stopped: 2, Best: 1},
		{Name: "patience 2", Monitor: "val_loss", Mode: "auto", Patience: 2, Values: []float32{1, 1.1, 0.9, 0.95, 0.96, 0.5}, Stopped: 5, Best: 3},
		{Name: "an equal value is no improvement", Monitor: "loss", Mode: "auto", Patience: 1, Values: []float32{1, 1, 1}, Stopped: 2, Best: 1},
		{Name: "min_delta", Monitor: "val_loss", Mode: "auto", MinDelta: 0.1, Patience: 1, Values: []float32{1, 0.95, 0.85, 0.8}, Stopped: 2, Best: 1},
		{Name: "accuracy rises in auto mode", Monitor: "val_accuracy", Mode: "auto", Patience: 1, Values: []float32{0.5, 0.6, 0.7, 0.65, 0.66, 0.9}, Stopped: 4, Best: 3},
		{Name: "mode max on a loss", Monitor: "loss", Mode: "max", Patience: 0, Values: []float32{1, 2, 1.5}, Stopped: 3, Best: 2},
		{Name: "mode min on an accuracy", Monitor: "accuracy", Mode: "min", Patience: 0, Values: []float32{0.5, 0.4, 0.45}, Stopped: 3, Best: 2},
		{Name: "never stops", Monitor: "val_loss", Mode: "auto", Patience: 2, Values: []float32{1, 0.9, 0.95, 0.8, 0.85, 0.7}, Stopped: 0, Best: 6},
		{Name: "baseline not beaten", Monitor: "val_loss", Mode: "auto", Patience: 2, Baseline: &base, Values: []float32{1, 0.9, 0.95, 0.7}, Stopped: 3, Best: 2},
		{Name: "without the baseline", Monitor: "val_loss", Mode: "auto", Patience: 2, Values: []float32{1, 0.9, 0.95, 0.7}, Stopped: 0, Best: 4},
		{Name: "start_from_epoch", Monitor: "val_loss", Mode: "auto", StartFromEpoch: 2, Values: []float32{1, 2, 3, 2.5, 2.6}, Stopped: 5, Best: 4},
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cases.json")
	b, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := oracle.Run("early_stopping_reference.py", path)
	if err != nil {
		t.Fatal(err)
	}
	var ref []struct{ Stopped, Best int }
	if err := json.Unmarshal(out[strings.LastIndexByte(string(out[:len(out)-1]), '\n')+1:], &ref); err != nil {
		t.Fatalf("oracle output %q: %v", out, err)
	}
	metrics := loop.FitMetrics(true)
	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			es := &loop.EarlyStopping{Monitor: c.Monitor, Mode: c.Mode, MinDelta: c.MinDelta, Patience: c.Patience, Baseline: c.Baseline, StartFromEpoch: c.StartFromEpoch}
			if err := es.Check(metrics); err != nil {
				t.Fatal(err)
			}
			stopped := 0
			for e, v := range c.Values {
				stop, err := es.Observe(e+1, v)
				if err != nil {
					t.Fatal(err)
				}
				if stop {
					stopped = e + 1
					break
				}
			}
			if stopped != es.StoppedEpoch {
				t.Errorf("StoppedEpoch %d, Observe stopped at %d", es.StoppedEpoch, stopped)
			}
			if stopped != c.Stopped || es.BestEpoch != c.Best {
				t.Errorf("stopped at epoch %d, best %d; want %d, %d", stopped, es.BestEpoch, c.Stopped, c.Best)
			}
			if stopped != ref[i].Stopped || es.BestEpoch != ref[i].Best {
				t.Errorf("stopped at epoch %d, best %d; Keras 3: %d, %d", stopped, es.BestEpoch, ref[i].Stopped, ref[i].Best)
			}
		})
	}
}

// Bad callback settings are errors naming the setting before training.
func TestCallbackSettingsErrors(t *testing.T) {
	for _, c := range []struct {
		name       string
		es         loop.EarlyStopping
		validation bool
		want       string
	}{
		{"val_loss without validation", loop.EarlyStopping{Monitor: "val_loss"}, false, `monitor "val_loss" is not a metric of this run (val_ metrics need validation data`},
		{"default monitor without validation", loop.EarlyStopping{}, false, `monitor "val_loss"`},
		{"typo", loop.EarlyStopping{Monitor: "val_acuracy"}, true, `monitor "val_acuracy" is not a metric of this run; the metrics are loss, accuracy, val_loss, val_accuracy, val_float_loss, val_float_accuracy, learning_rate`},
		{"negative patience", loop.EarlyStopping{Monitor: "loss", Patience: -1}, false, "patience -1 must be >= 0"},
		{"negative min_delta", loop.EarlyStopping{Monitor: "loss", MinDelta: -0.1}, false, "min_delta -0.1 must be finite and >= 0"},
		{"unknown mode", loop.EarlyStopping{Monitor: "loss", Mode: "down"}, false, `mode "down": want auto, min or max`},
		{"auto on the learning rate", loop.EarlyStopping{Monitor: "learning_rate"}, false, "mode auto cannot tell whether learning_rate should fall or rise"},
		{"negative start_from_epoch", loop.EarlyStopping{Monitor: "loss", StartFromEpoch: -2}, false, "start_from_epoch -2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.es.Check(loop.FitMetrics(c.validation))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check = %v, want an error containing %q", err, c.want)
			}
			bc := &loop.BestCheckpoint{Dir: t.TempDir(), Monitor: c.es.Monitor, Mode: c.es.Mode}
			if strings.Contains(c.want, "monitor") {
				if err := bc.Check(loop.FitMetrics(c.validation)); err == nil || !strings.Contains(err.Error(), "best_checkpoint: "+c.want) {
					t.Errorf("BestCheckpoint.Check = %v, want an error containing %q", err, c.want)
				}
			}
		})
	}
}

// Fit's own bad inputs, and a monitored metric that does not exist, are
// errors before any step.
func TestFitErrors(t *testing.T) {
	m, train, val, init := fitSetup(t)
	lc := loop.DefaultConfig()
	lc.BatchSize = 16
	tr, err := loop.NewTrainer(m, train, init, lc)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	wrong := data.Dataset{X: data.Array{Shape: []int64{40, 7}, Data: make([]float32, 280)}, Y: val.Y}
	for _, c := range []struct {
		name string
		cfg  loop.FitConfig
		cb   loop.Callback
		want string
	}{
		{"no epochs", loop.FitConfig{}, nil, "epochs 0 must be >= 1"},
		{"negative steps per epoch", loop.FitConfig{Epochs: 1, StepsPerEpoch: -1}, nil, "steps per epoch -1"},
		{"validation of the wrong shape", loop.FitConfig{Epochs: 1, Validation: &wrong}, nil, "validation data: x has shape [40 7], the model needs [N, 8]"},
		{"monitor without validation", loop.FitConfig{Epochs: 1}, &loop.EarlyStopping{Monitor: "val_accuracy"}, `early_stopping: monitor "val_accuracy" is not a metric`},
		{"best checkpoint without a folder", loop.FitConfig{Epochs: 1}, &loop.BestCheckpoint{Monitor: "loss"}, "best_checkpoint: no folder"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cbs []loop.Callback
			if c.cb != nil {
				cbs = append(cbs, c.cb)
			}
			_, err := loop.Fit(context.Background(), tr, c.cfg, cbs...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Fit = %v, want an error containing %q", err, c.want)
			}
			if tr.StepsDone() != 0 {
				t.Fatalf("%d steps run before the error", tr.StepsDone())
			}
		})
	}
}
