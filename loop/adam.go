package loop

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Keras's Adam defaults; the numbers are named once, in models, whose
// config fills them in.
const (
	DefaultLearningRate = models.DefaultLearningRate
	DefaultBeta1        = models.DefaultBeta1
	DefaultBeta2        = models.DefaultBeta2
	DefaultEpsilon      = models.DefaultEpsilon
)

// Adam is the Adam optimizer. Its numbers are float64, as Python's are; the
// graph uses their float32 roundings.
type Adam struct {
	LearningRate, Beta1, Beta2, Epsilon float64
	// Schedule, if set, replaces LearningRate with a rate computed each
	// step, as a Keras LearningRateSchedule does.
	Schedule Schedule
	// WeightDecay, if not 0, first shrinks each variable as Keras's
	// weight_decay does (w -= w * weight_decay * learning_rate); AdamW is
	// Adam with it.
	WeightDecay float64
	// Fused applies each update with TensorFlow's fused ResourceApplyAdam
	// kernel. Otherwise the update is the op sequence of Keras 3's Adam
	// (keras/src/optimizers/adam.py), which makes a Go step bit-identical to
	// a Python tf.keras step. The two differ in the last bit: the kernel
	// forms 1-beta in float32, Keras in float64 before rounding.
	Fused bool
}

// NewAdam returns Adam with Keras's defaults.
func NewAdam() Adam {
	return Adam{LearningRate: DefaultLearningRate, Beta1: DefaultBeta1, Beta2: DefaultBeta2, Epsilon: DefaultEpsilon}
}

// Validate checks the hyper-parameters.
func (a Adam) Validate() error {
	if err := checkRate("adam", a.LearningRate, a.Schedule); err != nil {
		return err
	}
	switch {
	case !(a.Beta1 >= 0 && a.Beta1 < 1):
		return fmt.Errorf("adam: beta_1 %g must be in [0, 1)", a.Beta1)
	case !(a.Beta2 >= 0 && a.Beta2 < 1):
		return fmt.Errorf("adam: beta_2 %g must be in [0, 1)", a.Beta2)
	case !(a.Epsilon > 0):
		return fmt.Errorf("adam: epsilon %g must be > 0", a.Epsilon)
	case !(a.WeightDecay >= 0 && !math.IsInf(a.WeightDecay, 0)):
		return fmt.Errorf("adam: weight_decay %g must be finite and >= 0", a.WeightDecay)
	}
	return nil
}

// slots are Adam's per-variable state.
type slots struct{ m, v *tfgraph.Variable }

// Apply adds ops that apply grads to vars and returns the op that runs them
// all and then increments the iteration counter. The updates start only
// after every gradient is computed.
func (a Adam) Apply(g *tfgraph.Graph, vars []*tfgraph.Variable, grads []tf.Output) (*tf.Operation, []*tfgraph.Variable, error) {
	if err := a.Validate(); err != nil {
		return nil, nil, err
	}
	s, u, iter, err := begin(g, "adam", vars, grads)
	if err != nil {
		return nil, nil, err
	}
	state := []*tfgraph.Variable{iter}

	// local_step = float32(iterations + 1); beta powers; alpha, as Keras.
	step := u.Cast("Cast", u.AddV2("Add", iter.Read(u, "iterations"), u.Const("one", int64(1))), tf.Float)
	b1p := u.Pow("Pow", u.Scalar("beta_1", float32(a.Beta1)), step)
	b2p := u.Pow("Pow_1", u.Scalar("beta_2", float32(a.Beta2)), step)
	lr := rate(u, iter, a.LearningRate, a.Schedule)
	one := u.Scalar("one_f", 1)
	u = weightDecay(u, vars, lr, a.WeightDecay)

	sl := make([]slots, len(vars))
	for i, v := range vars {
		if sl[i], err = newSlots(s, v); err != nil {
			return nil, nil, err
		}
		state = append(state, sl[i].m, sl[i].v)
	}
	var updates []*tf.Operation
	if a.Fused {
		updates = a.fused(u, vars, sl, grads, lr, b1p, b2p)
	} else {
		alpha := u.RealDiv("truediv", u.Mul("mul", lr, u.Sqrt("Sqrt", u.Sub("sub", one, b2p))), u.Sub("sub_1", one, b1p))
		updates = a.keras(u, vars, sl, grads, alpha)
	}
	after := s.WithControlDependencies(updates...)
	inc := iter.AssignAdd(after, "increment", after.Const("one", int64(1)))
	if err := g.Err(); err != nil {
		return nil, nil, fmt.Errorf("adam: %w", err)
	}
	return inc, state, nil
}

// keras adds Keras 3's update for each variable:
// m += (g - m) * (1 - beta_1); v += (g^2 - v) * (1 - beta_2);
// var -= (m * alpha) / (sqrt(v) + epsilon).
func (a Adam) keras(u *tfgraph.Graph, vars []*tfgraph.Variable, slots []slots, grads []tf.Output, alpha tf.Output) []*tf.Operation {
	oneMinusB1 := float32(1 - a.Beta1) // rounded from float64, as Python does
	oneMinusB2 := float32(1 - a.Beta2)
	var updates []*tf.Operation
	for i, v := range vars {
		sl := slots[i]
		s := u.Scope("update_" + sanitize(v.Name))
		gr := grads[i]
		mAdd := sl.m.AssignAdd(s, "m_add", s.Mul("Mul", s.Sub("Sub", gr, sl.m.Read(s, "m")), s.Scalar("one_minus_beta_1", oneMinusB1)))
		vAdd := sl.v.AssignAdd(s, "v_add", s.Mul("Mul_1", s.Sub("Sub_1", s.Square("Square", gr), sl.v.Read(s, "v")), s.Scalar("one_minus_beta_2", oneMinusB2)))
		mNew := sl.m.Read(s.WithControlDependencies(mAdd), "m_new")
		vNew := sl.v.Read(s.WithControlDependencies(vAdd), "v_new")
		delta := s.RealDiv("truediv", s.Mul("Mul_2", mNew, alpha), s.AddV2("Add", s.Sqrt("Sqrt", vNew), s.Scalar("epsilon", float32(a.Epsilon))))
		updates = append(updates, v.AssignSub(s, "apply", delta))
	}
	return updates
}

// fused adds one ResourceApplyAdam per variable.
func (a Adam) fused(u *tfgraph.Graph, vars []*tfgraph.Variable, slots []slots, grads []tf.Output, lr, b1p, b2p tf.Output) []*tf.Operation {
	b1 := u.Scalar("beta_1_f", float32(a.Beta1))
	b2 := u.Scalar("beta_2_f", float32(a.Beta2))
	eps := u.Scalar("epsilon", float32(a.Epsilon))
	var updates []*tf.Operation
	for i, v := range vars {
		op := u.Op("ResourceApplyAdam", "apply_"+sanitize(v.Name),
			[]any{v.Handle, slots[i].m.Handle, slots[i].v.Handle, b1p, b2p, lr, b1, b2, eps, grads[i]},
			map[string]any{"use_locking": false, "use_nesterov": false})
		updates = append(updates, op)
	}
	return updates
}

func newSlots(g *tfgraph.Graph, v *tfgraph.Variable) (slots, error) {
	m, err := zerosLike(g, v, "m")
	if err != nil {
		return slots{}, fmt.Errorf("adam: %w", err)
	}
	vv, err := zerosLike(g, v, "v")
	if err != nil {
		return slots{}, fmt.Errorf("adam: %w", err)
	}
	return slots{m: m, v: vv}, nil
}

// sanitize turns a variable name into a name-scope component.
func sanitize(name string) string {
	out := []byte(name)
	for i, c := range out {
		if c == '/' || c == ':' {
			out[i] = '_'
		}
	}
	return string(out)
}
