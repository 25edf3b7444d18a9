package loop_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// A step whose loss is not finite (a learning rate of 1e30 makes one at
// step 2 of a float MLP; the trainer goes back to its snapshot of step 0
// and runs step 1 again) is undone: the error names the step, the trainer keeps the
// state after the step before (every variable, bit for bit), its step
// count and losses, and its place in the data, so the same step fails the
// same way again and a checkpoint of the last good state can be saved and
// restored.
func TestStepUndoesNonFiniteLoss(t *testing.T) {
	c, err := models.ParseConfig(strings.NewReader("inputs: 10\nlayers:\n  - {name: a, type: dense, units: 32, activation: relu}\n  - {name: b, type: dense, units: 10}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Model()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.Synthetic(64, int(m.Input[0]), m.Classes(), 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg := loop.DefaultConfig()
	cfg.Optimizer = adam(1e30)
	cfg.BatchSize = 16
	tr, err := loop.NewTrainer(m, ds, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var nan *loop.DivergedError
	var last data.Weights
	for i := 0; i < 50 && nan == nil; i++ {
		if last, err = tr.State(); err != nil {
			t.Fatal(err)
		}
		_, err = tr.Step()
		if err != nil && !errors.As(err, &nan) {
			t.Fatal(err)
		}
	}
	if nan == nil {
		t.Fatal("no NaN/Inf loss in 50 steps at learning rate 1e30")
	}
	t.Logf("%v", err)
	good := nan.Step - 1
	if good < 1 || tr.StepsDone() != good || len(tr.Losses()) != good {
		t.Fatalf("NaN at step %d; StepsDone %d, %d losses; want the NaN after step 1 and %d steps done", nan.Step, tr.StepsDone(), len(tr.Losses()), good)
	}
	if msg := err.Error(); msg != fmt.Sprintf("step %d: loss is NaN; stopping (lower the learning rate or check the data); the trainer holds the state after step %d", nan.Step, good) {
		t.Errorf("error %q", msg)
	}
	if nan.Kept != good || len(nan.Losses) != 1 || !math.IsNaN(float64(nan.Losses[0])) {
		t.Errorf("Kept %d, Losses %v; want %d, [NaN]", nan.Kept, nan.Losses, good)
	}
	state, err := tr.State()
	if err != nil {
		t.Fatal(err)
	}
	ckptSameBits(t, "state after the undone step", last, state)
	for name, a := range state {
		for i, v := range a.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s[%d] is %v after the undo", name, i, v)
			}
		}
	}
	// The same batch again: the same failure.
	if _, err := tr.Step(); !errors.As(err, &nan) || nan.Step != good+1 {
		t.Fatalf("the step again: %v", err)
	}
	ckptSameBits(t, "state after undoing twice", last, ckptState(t, tr))
	path, err := tr.Save(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := loop.NewTrainer(m, ds, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Restore(path); err != nil {
		t.Fatal(err)
	}
	ckptSameBits(t, "restored last good state", last, ckptState(t, r))
	if err := r.Run(context.Background(), 1, nil); !errors.As(err, &nan) || nan.Step != good+1 {
		t.Fatalf("the restored trainer's next step: %v", err)
	}
}
