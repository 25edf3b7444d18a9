package loop

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// SGD is gradient descent, with momentum and Nesterov momentum as Keras 3's
// SGD: with momentum 0, w -= g * lr; otherwise
// m = m * momentum - g * lr, then w += m, or with Nesterov
// w += m * momentum - g * lr. Its numbers are float64, as Python's are; the
// graph uses their float32 roundings.
type SGD struct {
	LearningRate, Momentum float64
	Nesterov               bool
	// Schedule, if set, replaces LearningRate with a rate computed each
	// step, as a Keras LearningRateSchedule does.
	Schedule Schedule
	// WeightDecay, if not 0, first shrinks each variable as Keras's
	// weight_decay does (w -= w * weight_decay * learning_rate).
	WeightDecay float64
}

// Validate checks the hyper-parameters (Keras's ranges).
func (o SGD) Validate() error {
	if err := checkRate("sgd", o.LearningRate, o.Schedule); err != nil {
		return err
	}
	switch {
	case !(o.Momentum >= 0 && o.Momentum <= 1):
		return fmt.Errorf("sgd: momentum %g must be in [0, 1]", o.Momentum)
	case !(o.WeightDecay >= 0 && !math.IsInf(o.WeightDecay, 0)):
		return fmt.Errorf("sgd: weight_decay %g must be finite and >= 0", o.WeightDecay)
	}
	return nil
}

// Apply adds the updates of Keras 3's SGD.update_step for each variable
// (one momentum slot per variable when Momentum is not 0) and returns the
// op that runs them all and then increments the iteration counter.
func (o SGD) Apply(g *tfgraph.Graph, vars []*tfgraph.Variable, grads []tf.Output) (*tf.Operation, []*tfgraph.Variable, error) {
	if err := o.Validate(); err != nil {
		return nil, nil, err
	}
	s, u, iter, err := begin(g, "sgd", vars, grads)
	if err != nil {
		return nil, nil, err
	}
	state := []*tfgraph.Variable{iter}
	lr := rate(u, iter, o.LearningRate, o.Schedule)
	u = weightDecay(u, vars, lr, o.WeightDecay)
	var updates []*tf.Operation
	for i, v := range vars {
		us := u.Scope("update_" + sanitize(v.Name))
		step := us.Mul("Mul", grads[i], lr) // g * lr
		if o.Momentum == 0 {
			updates = append(updates, v.AssignSub(us, "apply", step))
			continue
		}
		m, err := zerosLike(s, v, "momentum")
		if err != nil {
			return nil, nil, fmt.Errorf("sgd: %w", err)
		}
		state = append(state, m)
		mom := us.Scalar("momentum", float32(o.Momentum))
		set := m.Assign(us, "m_assign", us.Sub("Sub", us.Mul("Mul_1", m.Read(us, "m"), mom), step))
		after := us.WithControlDependencies(set)
		mNew := m.Read(after, "m_new")
		if o.Nesterov {
			updates = append(updates, v.AssignAdd(after, "apply", after.Sub("Sub_1", after.Mul("Mul_2", mNew, mom), step)))
		} else {
			updates = append(updates, v.AssignAdd(after, "apply", mNew))
		}
	}
	done := s.WithControlDependencies(updates...)
	inc := iter.AssignAdd(done, "increment", done.Const("one", int64(1)))
	if err := g.Err(); err != nil {
		return nil, nil, fmt.Errorf("sgd: %w", err)
	}
	return inc, state, nil
}
