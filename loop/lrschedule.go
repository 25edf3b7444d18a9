package loop

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// A Schedule is a learning rate that changes with the step, computed in the
// graph from the optimizer's iteration counter (the steps done before this
// one, an int64) with Keras 3's ops, so that its float32 value each step is
// Keras's. ExponentialDecay, CosineDecay and PiecewiseConstantDecay are
// Keras's schedules of those names.
type Schedule interface {
	// Validate checks the schedule's numbers.
	Validate() error
	// Rate adds the ops that compute the learning rate at step.
	Rate(g *tfgraph.Graph, step tf.Output) tf.Output
}

// ExponentialDecay is Initial * DecayRate^(step / DecaySteps), the exponent
// floored when Staircase is set.
type ExponentialDecay struct {
	Initial    float64
	DecaySteps int64
	DecayRate  float64
	Staircase  bool
}

// Validate checks the schedule's numbers.
func (e ExponentialDecay) Validate() error {
	switch {
	case !positive(e.Initial):
		return fmt.Errorf("exponential_decay: initial learning rate %g must be finite and > 0", e.Initial)
	case e.DecaySteps <= 0:
		return fmt.Errorf("exponential_decay: decay_steps %d must be > 0", e.DecaySteps)
	case !positive(e.DecayRate):
		return fmt.Errorf("exponential_decay: decay_rate %g must be finite and > 0", e.DecayRate)
	}
	return nil
}

// Rate adds Keras's ops for the rate at step.
func (e ExponentialDecay) Rate(g *tfgraph.Graph, step tf.Output) tf.Output {
	s := g.Scope("ExponentialDecay")
	p := s.RealDiv("truediv", s.Cast("Cast", step, tf.Float), s.Scalar("decay_steps", float32(e.DecaySteps)))
	if e.Staircase {
		p = s.Op1("Floor", "Floor", []any{p}, nil)
	}
	return s.Mul("Mul", s.Scalar("initial_learning_rate", float32(e.Initial)), s.Pow("Pow", s.Scalar("decay_rate", float32(e.DecayRate)), p))
}

// CosineDecay follows half a cosine from Initial down to Alpha * Initial
// over DecaySteps steps, then stays there. With WarmupSteps > 0 it first
// rises linearly from Initial to WarmupTarget over WarmupSteps steps and
// then decays from WarmupTarget.
type CosineDecay struct {
	Initial      float64
	DecaySteps   int64
	Alpha        float64
	WarmupTarget float64
	WarmupSteps  int64
}

// Validate checks the schedule's numbers.
func (c CosineDecay) Validate() error {
	switch {
	case !(c.Initial >= 0 && !math.IsInf(c.Initial, 0)):
		return fmt.Errorf("cosine_decay: initial learning rate %g must be finite and >= 0", c.Initial)
	case c.DecaySteps <= 0:
		return fmt.Errorf("cosine_decay: decay_steps %d must be > 0", c.DecaySteps)
	case !(c.Alpha >= 0 && c.Alpha <= 1):
		return fmt.Errorf("cosine_decay: alpha %g must be in [0, 1]", c.Alpha)
	case c.WarmupSteps < 0:
		return fmt.Errorf("cosine_decay: warmup_steps %d must be >= 0", c.WarmupSteps)
	case c.WarmupSteps > 0 && !positive(c.WarmupTarget):
		return fmt.Errorf("cosine_decay: warmup_target %g must be finite and > 0 with warmup_steps", c.WarmupTarget)
	case c.WarmupSteps == 0 && c.Initial == 0:
		return fmt.Errorf("cosine_decay: initial learning rate 0 needs warmup_steps and a warmup_target")
	}
	return nil
}

// Rate adds Keras's ops for the rate at step: both branches of Keras's
// cond, and a select between them (they have no side effects).
func (c CosineDecay) Rate(g *tfgraph.Graph, step tf.Output) tf.Output {
	s := g.Scope("CosineDecay")
	initial := s.Scalar("initial_learning_rate", float32(c.Initial))
	decaySteps := s.Scalar("decay_steps", float32(c.DecaySteps))
	at := s.Cast("Cast", step, tf.Float)
	decay := func(step, from tf.Output) tf.Output {
		done := s.RealDiv("truediv", step, decaySteps)
		cosine := s.Mul("mul_1", s.Scalar("half", 0.5), s.AddV2("add", s.Scalar("one", 1), s.Op1("Cos", "Cos", []any{s.Mul("mul", s.Scalar("pi", float32(math.Pi)), done)}, nil)))
		decayed := s.AddV2("add_1", s.Mul("mul_2", s.Scalar("one_minus_alpha", float32(1-c.Alpha)), cosine), s.Scalar("alpha", float32(c.Alpha)))
		return s.Mul("Mul", from, decayed)
	}
	if c.WarmupSteps == 0 {
		return decay(s.Minimum("Minimum", at, decaySteps), initial)
	}
	target := s.Scalar("warmup_target", float32(c.WarmupTarget))
	warmupSteps := s.Scalar("warmup_steps", float32(c.WarmupSteps))
	at = s.Minimum("Minimum", at, s.AddV2("add_2", decaySteps, warmupSteps))
	warm := s.AddV2("add_3", s.Mul("mul_3", s.Sub("sub", target, initial), s.RealDiv("truediv_1", at, warmupSteps)), initial)
	return s.SelectV2("Select", s.Less("Less", at, warmupSteps), warm, decay(s.Sub("sub_1", at, warmupSteps), target))
}

// PiecewiseConstantDecay is Values[0] up to and including step
// Boundaries[0], Values[i] for steps in (Boundaries[i-1], Boundaries[i]],
// and the last value after the last boundary.
type PiecewiseConstantDecay struct {
	Boundaries []int64
	Values     []float64
}

// Validate checks the schedule's numbers.
func (p PiecewiseConstantDecay) Validate() error {
	if len(p.Boundaries) == 0 || len(p.Values) != len(p.Boundaries)+1 {
		return fmt.Errorf("piecewise_constant_decay: %d boundaries and %d values; want one or more boundaries and one value more", len(p.Boundaries), len(p.Values))
	}
	for i := 1; i < len(p.Boundaries); i++ {
		if p.Boundaries[i] <= p.Boundaries[i-1] {
			return fmt.Errorf("piecewise_constant_decay: boundaries %v must increase", p.Boundaries)
		}
	}
	for _, v := range p.Values {
		if !positive(v) {
			return fmt.Errorf("piecewise_constant_decay: value %g must be finite and > 0", v)
		}
	}
	return nil
}

// Rate adds Keras's ops for the rate at step: the sum over the ranges of
// (step in range) * value.
func (p PiecewiseConstantDecay) Rate(g *tfgraph.Graph, step tf.Output) tf.Output {
	s := g.Scope("PiecewiseConstant")
	b := func(i int) tf.Output { return s.Const(fmt.Sprintf("boundary_%d", i), p.Boundaries[i]) }
	v := func(i int) tf.Output { return s.Scalar(fmt.Sprintf("value_%d", i), float32(p.Values[i])) }
	term := func(name string, in tf.Output, i int) tf.Output {
		return s.Mul(name+"_mul", s.Cast(name+"_cast", in, tf.Float), v(i))
	}
	last := len(p.Boundaries) - 1
	r := s.AddV2("add", s.Scalar("zero", 0), term("first", s.LessEqual("LessEqual", step, b(0)), 0))
	r = s.AddV2("add_1", r, term("last", s.Greater("Greater", step, b(last)), last+1))
	for i := 0; i < last; i++ {
		in := s.Op1("LogicalAnd", fmt.Sprintf("in_%d", i), []any{s.Greater(fmt.Sprintf("Greater_%d", i), step, b(i)), s.LessEqual(fmt.Sprintf("LessEqual_%d", i), step, b(i+1))}, nil)
		r = s.AddV2(fmt.Sprintf("add_%d", i+2), r, term(fmt.Sprintf("range_%d", i), in, i+1))
	}
	return r
}

// checkRate checks an optimizer's learning rate: the schedule if there is
// one, else the fixed rate.
func checkRate(who string, lr float64, s Schedule) error {
	if s != nil {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("%s: %w", who, err)
		}
		return nil
	}
	if !positive(lr) {
		return fmt.Errorf("%s: learning_rate %g must be finite and > 0", who, lr)
	}
	return nil
}

// rate adds the learning rate of this step: the schedule's at the steps
// done so far (iter before its increment), else the fixed rate.
func rate(u *tfgraph.Graph, iter *tfgraph.Variable, lr float64, s Schedule) tf.Output {
	if s != nil {
		return s.Rate(u, iter.Read(u, "schedule_step"))
	}
	return u.Scalar("learning_rate", float32(lr))
}

func positive(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
