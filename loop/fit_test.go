package loop_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// qatTrainer is the fit MLP with tfmot's 8-bit scheme, Adam(lr), batches
// of 16.
func qatTrainer(t *testing.T, lr float64) (*loop.Trainer, models.Model, data.Dataset) {
	t.Helper()
	cfg, err := models.ParseConfig(strings.NewReader(fitMLP + "scheme:\n  input_bits: 8\n  default: {weight_bits: 8, activation_bits: 8}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Model()
	if err != nil {
		t.Fatal(err)
	}
	_, train, val, init := fitSetup(t)
	lc := loop.DefaultConfig()
	lc.Optimizer, lc.BatchSize, lc.DataSeed = adam(lr), 16, 9
	tr, err := loop.NewTrainer(m, train, init, lc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, m, val
}

// snapshot is the model's weights and ranges at the end of an epoch.
func snapshot(t *testing.T, tr *loop.Trainer) data.Weights {
	w, err := tr.Weights()
	if err != nil {
		t.Fatal(err)
	}
	r, err := tr.Ranges()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r {
		w[k] = v
	}
	return w
}

// A QAT run's per-epoch validation figures are those of Evaluators built
// from the epoch's weights and ranges (fake quant) and weights alone with
// the scheme off (float), bit for bit; early stopping ends the run at the
// epoch the metric sequence of an uninterrupted run says, and restores the
// best epoch's weights and ranges; the best checkpoint holds the best
// epoch's state.
func TestFitValidationEarlyStoppingBestCheckpoint(t *testing.T) {
	const epochs, lr = 8, 0.01
	tr, m, val := qatTrainer(t, lr)
	var states []data.Weights
	record := loop.CallbackFuncs{OnEpochEnd: func(loop.EpochResult) error {
		states = append(states, snapshot(t, tr))
		return nil
	}}
	full, err := loop.Fit(context.Background(), tr, loop.FitConfig{Epochs: epochs, Validation: &val}, record)
	if err != nil {
		t.Fatal(err)
	}
	fm := m
	fm.Scheme = nil
	var vals, losses []float32
	for i, e := range full.Epochs {
		w, r := data.Weights{}, data.Weights{}
		for k, v := range states[i] {
			if strings.HasSuffix(k, "_min") || strings.HasSuffix(k, "_max") {
				r[k] = v
			} else {
				w[k] = v
			}
		}
		for _, c := range []struct {
			what      string
			m         models.Model
			r         data.Weights
			loss, acc float32
		}{{"fake quant", m, r, e.ValLoss, e.ValAccuracy}, {"float", fm, nil, e.ValFloatLoss, e.ValFloatAccuracy}} {
			ev, err := loop.NewEvaluator(c.m, w, c.r, loop.DefaultConfig().Session)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ev.Metrics(val, 16)
			ev.Close()
			if err != nil {
				t.Fatal(err)
			}
			if math.Float32bits(got.Loss) != math.Float32bits(c.loss) || got.Accuracy != c.acc {
				t.Errorf("epoch %d %s validation: Fit %v/%v, Evaluator %v/%v", e.Epoch, c.what, c.loss, c.acc, got.Loss, got.Accuracy)
			}
		}
		if e.ValLoss == e.ValFloatLoss {
			t.Errorf("epoch %d: fake-quant and float validation loss are both %v", e.Epoch, e.ValLoss)
		}
		vals = append(vals, e.ValAccuracy)
		losses = append(losses, e.ValLoss)
	}
	t.Logf("val_loss per epoch %v", losses)
	t.Logf("val_accuracy per epoch %v (fake quant and float equal the Evaluators' bit for bit)", vals)

	// The same run with early stopping on val_accuracy: where does the
	// pure unit say it stops, fed the uninterrupted run's values?
	unit := &loop.EarlyStopping{Monitor: "val_accuracy", Patience: 1}
	if err := unit.Check(loop.FitMetrics(true)); err != nil {
		t.Fatal(err)
	}
	want := 0
	for i, v := range vals {
		if stop, _ := unit.Observe(i+1, v); stop {
			want = i + 1
			break
		}
	}
	if want == 0 || want == epochs {
		t.Fatalf("val_accuracy %v: early stopping would stop at epoch %d; the test needs a stop before the last epoch", vals, want)
	}
	tr2, _, _ := qatTrainer(t, lr)
	es := &loop.EarlyStopping{Monitor: "val_accuracy", Patience: 1, RestoreBestWeights: true}
	best := &loop.BestCheckpoint{Dir: t.TempDir(), Monitor: "val_accuracy"}
	h, err := loop.Fit(context.Background(), tr2, loop.FitConfig{Epochs: epochs, Validation: &val}, es, best)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Epochs) != want || !h.Stopped || es.StoppedEpoch != want {
		t.Fatalf("early stopping ran %d epochs (stopped %v at %d), want a stop at epoch %d", len(h.Epochs), h.Stopped, es.StoppedEpoch, want)
	}
	for i, e := range h.Epochs {
		if e != full.Epochs[i] {
			t.Errorf("epoch %d: %+v, the uninterrupted run's %+v", i+1, e, full.Epochs[i])
		}
	}
	t.Logf("stopped at epoch %d as EarlyStopping(patience=1) does for %v; best epoch %d", want, vals[:want], es.BestEpoch)
	sameWeights(t, "restored best weights", snapshot(t, tr2), states[es.BestEpoch-1])
	if best.Epoch != es.BestEpoch {
		t.Errorf("best checkpoint of epoch %d, early stopping's best epoch %d", best.Epoch, es.BestEpoch)
	}
	ckpts, err := loop.Checkpoints(best.Dir)
	if err != nil || len(ckpts) != 1 || ckpts[0].Path != best.Path {
		t.Fatalf("best checkpoint folder holds %v (%v), want only %s", ckpts, err, best.Path)
	}
	tr3, _, _ := qatTrainer(t, lr)
	if err := tr3.Restore(best.Path); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, "best checkpoint", snapshot(t, tr3), states[best.Epoch-1])
}

func sameWeights(t *testing.T, what string, got, want data.Weights) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d arrays, want %d", what, len(got), len(want))
	}
	for k, v := range want {
		if !sameFloats(t, what+" "+k, got[k].Data, v.Data) {
			return
		}
	}
}

// A run that diverges under Fit with validation and callbacks returns the
// DivergedError; the trainer holds the last good state, whose checkpoint
// saves and restores whole, and the history holds the epochs finished.
func TestFitDivergesWithCallbacks(t *testing.T) {
	tr, _, val := qatTrainer(t, 1e30)
	best := &loop.BestCheckpoint{Dir: t.TempDir(), Monitor: "val_loss"}
	h, err := loop.Fit(context.Background(), tr, loop.FitConfig{Epochs: 50, StepsPerEpoch: 1, Validation: &val}, best, &loop.EarlyStopping{Monitor: "val_loss", Patience: 100})
	var nan *loop.DivergedError
	if !errors.As(err, &nan) {
		t.Fatalf("Fit = %v, want a *DivergedError", err)
	}
	if tr.StepsDone() != nan.Kept || len(h.Epochs) != nan.Kept || nan.Kept < 1 {
		t.Fatalf("diverged at step %d, kept %d; the trainer is at step %d, the history has %d epochs", nan.Step, nan.Kept, tr.StepsDone(), len(h.Epochs))
	}
	kept := snapshot(t, tr)
	path, err := tr.Save(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tr2, _, _ := qatTrainer(t, 1e30)
	if err := tr2.Restore(path); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, "last good checkpoint", snapshot(t, tr2), kept)
	t.Logf("%v; %d epochs in the history, best checkpoint %s", nan, len(h.Epochs), best.Path)
}

// A trainer restored from a checkpoint in the middle of an epoch reports
// the same epochs (loss and accuracy rebuilt from the checkpoint's steps)
// as one never stopped.
func TestFitResumedMidEpoch(t *testing.T) {
	full, _, val := qatTrainer(t, 0.01)
	want, err := loop.Fit(context.Background(), full, loop.FitConfig{Epochs: 2, Validation: &val})
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := qatTrainer(t, 0.01)
	if err := first.Run(context.Background(), 3, nil); err != nil {
		t.Fatal(err)
	}
	path, err := first.Save(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	resumed, _, _ := qatTrainer(t, 0.01)
	if err := resumed.Restore(path); err != nil {
		t.Fatal(err)
	}
	got, err := loop.Fit(context.Background(), resumed, loop.FitConfig{Epochs: 2, Validation: &val})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Epochs) != 2 || got.Epochs[0] != want.Epochs[0] || got.Epochs[1] != want.Epochs[1] {
		t.Fatalf("resumed at step 3: %+v\nuninterrupted: %+v", got.Epochs, want.Epochs)
	}
}
