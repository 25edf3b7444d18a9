package loop

import (
	"fmt"
	"math"
	"slices"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// DivergedError is the error of a step whose loss is NaN or infinite, or
// whose updates made a variable NaN or infinite. The trainer was put back
// in its last good state, the state after step Kept (normally Step-1),
// which Save, Weights and State see, with its position in the data.
type DivergedError struct {
	Step int     // the step that diverged (1-based)
	Loss float32 // its loss: NaN, +Inf or -Inf, or finite if its update was not
	Kept int     // the step whose state the trainer holds
	// Losses are the losses of steps Kept+1 to Step, undone (the last is
	// Loss).
	Losses []float32
}

// LossFinite reports whether the step's loss was finite (and so its
// updates were not).
func (e *DivergedError) LossFinite() bool {
	return !math.IsNaN(float64(e.Loss)) && !math.IsInf(float64(e.Loss), 0)
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("%s; stopping (lower the learning rate or check the data); the trainer holds the state after step %d", e.What(), e.Kept)
}

// What says what diverged: "step 12: loss is NaN", or "step 12: its
// update made a variable NaN or infinite (loss 3.5)".
func (e *DivergedError) What() string {
	if e.LossFinite() {
		return fmt.Sprintf("step %d: its update made a variable NaN or infinite (loss %v)", e.Step, e.Loss)
	}
	return fmt.Sprintf("step %d: loss is %v", e.Step, e.Loss)
}

// snapshotEvery is how many steps apart the trainer copies its state
// aside (if every variable is finite). A step that diverges is undone by
// going back to that copy and running again, from the same batches, the
// steps after it, at most snapshotEvery-1. The copy and the check cost
// about a third of a step's CPU time, once every snapshotEvery steps.
const snapshotEvery = 20

// lastGood keeps a copy of every variable (a snapshot) so that a step
// that diverged, whose updates were applied in the same Session.Run as
// its loss, can be undone.
type lastGood struct {
	ok       tf.Output     // bool: every float variable is finite
	keep     *tf.Operation // copy if ok
	snapshot *tf.Operation // copy unconditionally (after init and restore)
	rollback *tf.Operation // copy back into the variables
}

// addLastGood adds a shadow variable for each of vars under "last_good/"
// and the ops that check the variables and copy to and from the shadows.
// The shadows are not in the graph's variable list, so checkpoints do not
// hold them. ok is whether the sum of every float variable is finite (a
// sum is finite only if its terms are; one that overflows float32 counts
// as diverged too). Until the next update writes a variable, its shadow
// shares its buffer.
func addLastGood(g *tfgraph.Graph, vars []*tfgraph.Variable) lastGood {
	s := g.Scope("last_good")
	terms := []tf.Output{s.Scalar("zero", 0)}
	for i, v := range vars {
		if v.DType != tf.Float {
			continue
		}
		axes := make([]int32, len(v.Shape))
		for a := range axes {
			axes[a] = int32(a)
		}
		terms = append(terms, s.Sum(fmt.Sprintf("v%d/sum", i), v.Read(s, fmt.Sprintf("v%d/check", i)), axes, false))
	}
	ok := s.Op1("IsFinite", "is_finite", []any{s.AddN("total", terms)}, nil)
	var keep, snap, back []*tf.Operation
	for i, v := range vars {
		name := fmt.Sprintf("v%d", i)
		h := s.Op("VarHandleOp", name, nil, map[string]any{
			"dtype": v.DType, "shape": tf.MakeShape(v.Shape...), "shared_name": "last_good/" + v.Name})
		if h == nil {
			return lastGood{}
		}
		shadow := &tfgraph.Variable{Name: h.Name(), Shape: v.Shape, DType: v.DType, Handle: h.Output(0)}
		// Switch's output 1 is dead when ok is false, and TensorFlow
		// skips the assign that would read it.
		sw := s.Op("Switch", name+"/if_ok", []any{v.Read(s, name+"/value"), ok}, nil)
		if sw == nil {
			return lastGood{}
		}
		keep = append(keep, shadow.Assign(s, name+"/keep", sw.Output(1)))
		snap = append(snap, shadow.Assign(s, name+"/snapshot", v.Read(s, name+"/snapshot_value")))
		back = append(back, v.Assign(s, name+"/rollback", shadow.Read(s, name+"/rollback_value")))
	}
	return lastGood{ok: ok, keep: s.Group("keep", keep...), snapshot: s.Group("snapshot", snap...), rollback: s.Group("rollback", back...)}
}

// snapshotNow copies the state aside unconditionally (after
// initialisation and restores).
func (t *Trainer) snapshotNow() error {
	if _, err := t.session.Run(nil, nil, []*tf.Operation{t.good.snapshot}); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	t.snapStep, t.replayable = t.step, true
	if t.batches != nil {
		t.snapData = t.batches.State()
	}
	return nil
}

// keepIfFinite copies the state aside if every variable is finite and
// reports whether it was.
func (t *Trainer) keepIfFinite() (bool, error) {
	out, err := t.session.Run(nil, []tf.Output{t.good.ok}, []*tf.Operation{t.good.keep})
	if err != nil {
		return false, fmt.Errorf("snapshot: %w", err)
	}
	ok, _ := tfgraph.Value(out[0]).(bool)
	if ok {
		t.snapStep, t.replayable = t.step, true
		if t.batches != nil {
			t.snapData = t.batches.State()
		}
	}
	return ok, nil
}

// finite reports whether every variable is finite.
func (t *Trainer) finite() (bool, error) {
	out, err := t.session.Run(nil, []tf.Output{t.good.ok}, nil)
	if err != nil {
		return false, err
	}
	ok, _ := tfgraph.Value(out[0]).(bool)
	return ok, nil
}

// toSnapshot puts the trainer back in the snapshot's state.
func (t *Trainer) toSnapshot(all []float32) error {
	if _, err := t.session.Run(nil, nil, []*tf.Operation{t.good.rollback}); err != nil {
		return fmt.Errorf("undo: %w", err)
	}
	if t.batches != nil {
		if err := t.batches.SetState(t.snapData); err != nil {
			return err
		}
	}
	t.step, t.losses = t.snapStep, slices.Clone(all[:t.snapStep])
	return nil
}

// diverged puts the trainer in the newest state before step div whose
// variables are finite and whose steps ran as recorded: back to the
// snapshot, then the steps after it again, each checked to give the
// recorded loss (bit for bit) and a finite state. all holds the losses of
// steps 1 to div (the last, loss, is div's). If the steps run again show
// that an earlier step's update made the state non-finite, that step is
// the one reported. It returns the DivergedError to report.
func (t *Trainer) diverged(all []float32, div int) error {
	fail := func(err error) error {
		return fmt.Errorf("step %d: loss %v: the step diverged, and undoing it failed: %w", div, all[div-1], err)
	}
	if err := t.toSnapshot(all); err != nil {
		return fail(err)
	}
	good, culprit, ran := t.snapStep, 0, 0
	for n := t.snapStep + 1; t.replayable && n < div; n++ {
		l, err := t.replay()
		ran++
		if err != nil || math.Float32bits(l) != math.Float32bits(all[n-1]) {
			break
		}
		ok, err := t.finite()
		if err != nil {
			break
		}
		if !ok {
			culprit = n
			break
		}
		good = n
	}
	if ran > good-t.snapStep { // the variables are past good
		if err := t.toSnapshot(all); err != nil {
			return fail(err)
		}
		for n := t.snapStep + 1; n <= good; n++ {
			if _, err := t.replay(); err != nil {
				return fail(err)
			}
		}
	}
	t.step, t.losses = good, slices.Clone(all[:good])
	t.corrects = slices.Clone(t.corrects[:good]) // the replayed steps' are those recorded
	step := div
	if culprit > 0 {
		step = culprit
	}
	return &DivergedError{Step: step, Loss: all[step-1], Kept: good, Losses: slices.Clone(all[good:step])}
}

// replay runs the next training step again, without checks.
func (t *Trainer) replay() (float32, error) {
	feeds := t.feeds
	if t.batches != nil {
		x, y := t.batches.Next()
		var err error
		if feeds, err = feedXY(t.x, t.y, x, y); err != nil {
			return 0, err
		}
	}
	out, err := t.session.Run(feeds, []tf.Output{t.loss}, []*tf.Operation{t.train})
	if err != nil {
		return 0, err
	}
	l, _ := tfgraph.Value(out[0]).(float32)
	return l, nil
}
