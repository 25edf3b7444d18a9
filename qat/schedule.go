package qat

import (
	"fmt"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Schedule changes quantization over training, counted in 0-based steps
// (tfmot has none of these; TF1's tf.contrib.quantize had the first and
// last). Zero values switch a feature off.
type Schedule struct {
	// QuantDelay: for steps < QuantDelay the forward pass uses float values
	// (ranges still learn), then fake quant turns on.
	QuantDelay int `yaml:"quant_delay"`
	// FreezeRangesAfter: from this step on, LastValue, MovingAverage and
	// AllValues ranges keep their values.
	FreezeRangesAfter int `yaml:"freeze_ranges_after"`
	// FreezeBNAfter: from this step on, folded batch norms use their moving
	// statistics instead of the batch's, and stop updating them.
	FreezeBNAfter int `yaml:"freeze_bn_after"`
}

// Validate reports negative steps.
func (s Schedule) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"quant_delay", s.QuantDelay}, {"freeze_ranges_after", s.FreezeRangesAfter}, {"freeze_bn_after", s.FreezeBNAfter}} {
		if f.v < 0 {
			return fmt.Errorf("schedule: %s %d must be >= 0", f.name, f.v)
		}
	}
	return nil
}

// Before returns a float32 scalar that is 1 while the step is < k and 0
// from step k on. It needs Env.Step.
func (e *Env) Before(g *tfgraph.Graph, name string, k int) tf.Output {
	if e.Step == (tf.Output{}) {
		g.SetErr(fmt.Errorf("%s: the schedule needs the step counter (Env.Step)", name))
		return tf.Output{}
	}
	s := g.Scope(name)
	less := s.Op1("Less", "Less", []any{e.Step, s.Const("k", int64(k))}, nil)
	return s.Cast("Cast", less, tf.Float)
}

// rangesActive is Before(FreezeRangesAfter), or the zero Output when ranges
// never freeze.
func (e *Env) rangesActive(g *tfgraph.Graph) tf.Output {
	if e.Schedule.FreezeRangesAfter <= 0 {
		return tf.Output{}
	}
	return e.Before(g, "ranges_active", e.Schedule.FreezeRangesAfter)
}

// delayed returns y, or during the quant delay x, in training graphs.
func (e *Env) delayed(g *tfgraph.Graph, y, x tf.Output) tf.Output {
	if !e.Training || e.Schedule.QuantDelay <= 0 {
		return y
	}
	off := e.Before(g, "quant_delay", e.Schedule.QuantDelay)
	return blend(g.Scope("delay"), off, x, y)
}

// check validates q and records an error naming the quantizer.
func (e *Env) check(name string, q Quantizer) bool {
	if err := q.Validate(); err != nil {
		e.Graph.SetErr(fmt.Errorf("quantizer %s: %w", e.Graph.FullName(name), err))
		return false
	}
	return e.Graph.Err() == nil
}

// observe records the calibration statistics of the range variables lo
// and hi, and returns x unchanged (calibration runs in float).
func (e *Env) observe(x tf.Output, lo, hi *tfgraph.Variable, min, max tf.Output) tf.Output {
	e.rec.observed[lo.Name] = min
	e.rec.observed[hi.Name] = max
	return x
}

// store assigns the new range to lo and hi (unless the schedule froze the
// ranges) and returns reads made after the stores, as tfmot's
// AssignMin<kind> / AssignMax<kind> followed by the FakeQuant's reads.
func (e *Env) store(s *tfgraph.Graph, lo, hi *tfgraph.Variable, min, max tf.Output, kind string) (tf.Output, tf.Output) {
	if on := e.rangesActive(s); on != (tf.Output{}) {
		min = blend(s.Scope("freeze_min"), on, min, lo.Read(s, "min_frozen"))
		max = blend(s.Scope("freeze_max"), on, max, hi.Read(s, "max_frozen"))
	}
	return assignRead(s, lo, "AssignMin"+kind, min), assignRead(s, hi, "AssignMax"+kind, max)
}

// batchRanges is the part LastValue and MovingAverage share: it makes the
// range variables <name>_min and <name>_max (from [InitMin, InitMax]) and
// the op scope name+kind, and returns the batch's range (not yet widened
// by clipRange). In an inference or calibration graph the quantizer is
// finished there, and done is its output.
func (e *Env) batchRanges(name, kind string, x tf.Output, perChannel, symmetric bool, numBits int, narrow bool) (
	s *tfgraph.Graph, lo, hi *tfgraph.Variable, bmin, bmax, done tf.Output) {
	shape := rangeShape(e.Graph, x, perChannel)
	lo, hi = e.rangeVar(name+"_min", shape, InitMin), e.rangeVar(name+"_max", shape, InitMax)
	s = e.Graph.Scope(name + kind)
	if !e.Training && !e.Calibrate {
		return s, lo, hi, bmin, bmax, fakeQuant(s, x, lo.Read(s, "min"), hi.Read(s, "max"), perChannel, numBits, narrow)
	}
	bmin, bmax = batchRange(s, x, perChannel)
	if e.Calibrate {
		rmin, rmax := clipRange(s, bmin, bmax, symmetric, numBits, narrow)
		done = e.observe(x, lo, hi, rmin, rmax)
	}
	return s, lo, hi, bmin, bmax, done
}
