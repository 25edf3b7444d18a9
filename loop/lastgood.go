package loop

import (
	"fmt"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// NonFiniteLossError is the error of a step whose loss is NaN or
// infinite. The step's updates were undone: the trainer holds the state
// after step Step-1 (its last good state), which Save, Weights and State
// see, and its position in the data is that of step Step again.
type NonFiniteLossError struct {
	Step int     // the step whose loss is not finite (1-based)
	Loss float32 // NaN, +Inf or -Inf
}

func (e *NonFiniteLossError) Error() string {
	return fmt.Sprintf("step %d: loss is %v; stopping (lower the learning rate or check the data); the step was undone, the trainer holds the state after step %d",
		e.Step, e.Loss, e.Step-1)
}

// lastGood keeps a copy of every variable as it was after the last step
// whose loss was finite, so that a step with a NaN or infinite loss (whose
// updates were applied in the same Session.Run) can be undone.
type lastGood struct {
	keep     *tf.Operation // after a train step: copy if the loss is finite
	snapshot *tf.Operation // copy unconditionally (after init and restore)
	rollback *tf.Operation // copy back into the variables
}

// addLastGood adds a shadow variable for each of vars under "last_good/"
// and the ops that copy to and from them. The shadows are not in the
// graph's variable list, so checkpoints do not hold them. keep runs after
// step and copies the variables only if loss is finite.
func addLastGood(g *tfgraph.Graph, vars []*tfgraph.Variable, step *tf.Operation, loss tf.Output) lastGood {
	s := g.Scope("last_good")
	after := s.WithControlDependencies(step)
	finite := after.Op1("IsFinite", "loss_is_finite", []any{loss}, nil)
	var keep, snap, back []*tf.Operation
	for i, v := range vars {
		name := fmt.Sprintf("v%d", i)
		h := s.Op("VarHandleOp", name, nil, map[string]any{
			"dtype": v.DType, "shape": tf.MakeShape(v.Shape...), "shared_name": "last_good/" + v.Name})
		if h == nil {
			return lastGood{}
		}
		shadow := &tfgraph.Variable{Name: h.Name(), Shape: v.Shape, DType: v.DType, Handle: h.Output(0)}
		// Switch's output 1 is dead when the loss is not finite, and
		// TensorFlow skips the assign that would read it.
		sw := after.Op("Switch", name+"/if_finite", []any{v.Read(after, name+"/value"), finite}, nil)
		if sw == nil {
			return lastGood{}
		}
		keep = append(keep, shadow.Assign(after, name+"/keep", sw.Output(1)))
		snap = append(snap, shadow.Assign(s, name+"/snapshot", v.Read(s, name+"/snapshot_value")))
		back = append(back, v.Assign(s, name+"/rollback", shadow.Read(s, name+"/rollback_value")))
	}
	return lastGood{keep: s.Group("keep", keep...), snapshot: s.Group("snapshot", snap...), rollback: s.Group("rollback", back...)}
}
