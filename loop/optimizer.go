package loop

import (
	"fmt"
	"strings"

	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Optimizer adds the ops that apply gradients to variables: Adam (and
// AdamW) or SGD.
type Optimizer interface {
	// Validate checks the hyper-parameters.
	Validate() error
	// Apply adds ops that apply grads to vars once every gradient is
	// computed, and returns the op that runs them all (and then
	// increments the iteration counter) and the optimizer's own state
	// variables (the counter, then its slots), which checkpoints save.
	Apply(g *tfgraph.Graph, vars []*tfgraph.Variable, grads []tf.Output) (*tf.Operation, []*tfgraph.Variable, error)
}

// NewOptimizer returns the optimizer a config names: "adam" or "adamw"
// (Adam, with weight decay for AdamW) or "sgd" (SGD), with the config's
// numbers, checked.
func NewOptimizer(c models.OptimizerConfig) (Optimizer, error) {
	var o Optimizer
	s, err := newSchedule(c.LearningRate, c.Schedule)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(c.Name) {
	case models.OptimizerAdam, models.OptimizerAdamW:
		o = Adam{LearningRate: c.LearningRate, Beta1: c.Beta1, Beta2: c.Beta2, Epsilon: c.Epsilon, Fused: c.Fused, WeightDecay: c.WeightDecay, Schedule: s}
	case models.OptimizerSGD:
		o = SGD{LearningRate: c.LearningRate, Momentum: c.Momentum, Nesterov: c.Nesterov, WeightDecay: c.WeightDecay, Schedule: s}
	default:
		return nil, fmt.Errorf("optimizer %q: want adam, adamw or sgd", c.Name)
	}
	return o, o.Validate()
}

// begin starts an optimizer's ops under the scope named who: it checks
// grads against vars, adds the step counter (int64 from 0, as Keras's
// iterations), and returns the scope, a scope whose ops wait for every
// gradient and the counter. The wait is one barrier op: control edges from
// each gradient to each update op would grow with the square of the
// variable count (130,000 edges for 40 small layers) and make TensorFlow's
// graph passes superlinear.
func begin(g *tfgraph.Graph, who string, vars []*tfgraph.Variable, grads []tf.Output) (s, u *tfgraph.Graph, iter *tfgraph.Variable, err error) {
	if len(vars) != len(grads) {
		return nil, nil, nil, fmt.Errorf("%s: %d variables but %d gradients", who, len(vars), len(grads))
	}
	var gradOps []*tf.Operation
	for i, gr := range grads {
		if gr.Op == nil {
			return nil, nil, nil, fmt.Errorf("%s: variable %s has no gradient (the loss does not depend on it)", who, vars[i].Name)
		}
		gradOps = append(gradOps, gr.Op)
	}
	s = g.Scope(who)
	zero, err := tf.NewTensor(int64(0))
	if err != nil {
		return nil, nil, nil, err
	}
	iter = s.NewVariable("iterations", zero)
	return s, s.WithControlDependencies(s.Group("gradients_ready", gradOps...)), iter, nil
}

// zerosLike returns a new variable of v's shape holding zeros, named name.
func zerosLike(g *tfgraph.Graph, v *tfgraph.Variable, name string) (*tfgraph.Variable, error) {
	zeros, err := tfgraph.Zeros{}.Values(v.Shape, nil)
	if err != nil {
		return nil, fmt.Errorf("slot %s for %s: %w", name, v.Name, err)
	}
	t, err := tfgraph.NewTensor(v.Shape, zeros)
	if err != nil {
		return nil, fmt.Errorf("slot %s for %s: %w", name, v.Name, err)
	}
	return g.NewVariable(sanitize(v.Name)+"/"+name, t), nil
}

// weightDecay adds Keras's decoupled weight decay, w -= w * wd * lr for
// each variable, and returns a scope whose ops run after it (u itself when
// wd is 0, as Keras skips it when weight_decay is None).
func weightDecay(u *tfgraph.Graph, vars []*tfgraph.Variable, lr tf.Output, wd float64) *tfgraph.Graph {
	if wd == 0 {
		return u
	}
	d := u.Scope("weight_decay")
	w := d.Scalar("weight_decay", float32(wd))
	var ops []*tf.Operation
	for _, v := range vars {
		s := d.Scope(sanitize(v.Name))
		ops = append(ops, v.AssignSub(s, "apply", s.Mul("mul_1", s.Mul("mul", v.Read(s, "w"), w), lr)))
	}
	return u.WithControlDependencies(ops...)
}

// newSchedule is the schedule a config describes, starting from lr (nil
// for none).
func newSchedule(lr float64, c *models.ScheduleConfig) (Schedule, error) {
	if c == nil {
		return nil, nil
	}
	switch strings.ToLower(c.Name) {
	case models.ScheduleExponential:
		return ExponentialDecay{Initial: lr, DecaySteps: c.DecaySteps, DecayRate: c.DecayRate, Staircase: c.Staircase}, nil
	case models.ScheduleCosine:
		return CosineDecay{Initial: lr, DecaySteps: c.DecaySteps, Alpha: c.Alpha, WarmupSteps: c.WarmupSteps, WarmupTarget: c.WarmupTarget}, nil
	case models.SchedulePiecewise:
		return PiecewiseConstantDecay{Boundaries: c.Boundaries, Values: c.Values}, nil
	}
	return nil, fmt.Errorf("optimizer: schedule: unknown name %q", c.Name)
}
