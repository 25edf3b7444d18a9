package qat

import (
	"fmt"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// tfmot's numbers for its default 8-bit scheme, named once.
const (
	// EMADecay is MovingAverageQuantizer's decay: v -= (v - x) * (1 - decay).
	EMADecay = 0.999
	// InitMin and InitMax are where tfmot's range variables start.
	InitMin = -6.0
	InitMax = 6.0
)

// LastValue sets the range from the tensor's own min and max at every
// training step (tfmot's LastValueQuantizer, used for weights). Symmetric
// widens the range to be symmetric around zero; otherwise it is widened to
// contain zero. PerChannel keeps one range per index of the last axis.
type LastValue struct {
	NumBits     int
	PerChannel  bool
	Symmetric   bool
	NarrowRange bool
}

// WeightsDefault is tfmot's default weight quantizer: 8 bits, symmetric,
// narrow range (the int8 grid [-127, 127]), per channel if asked.
func WeightsDefault(perChannel bool) LastValue {
	return LastValue{NumBits: DefaultBits, PerChannel: perChannel, Symmetric: true, NarrowRange: true}
}

// Validate implements Quantizer.
func (q LastValue) Validate() error { return ValidateBits(q.NumBits) }

// Apply implements Quantizer: variables <name>_min and <name>_max.
func (q LastValue) Apply(e *Env, name string, x tf.Output) tf.Output {
	if !e.check(name, q) {
		return tf.Output{}
	}
	s, lo, hi, bmin, bmax, done := e.batchRanges(name, "_LastValueQuant", x, q.PerChannel, q.Symmetric, q.NumBits, q.NarrowRange)
	if done != (tf.Output{}) {
		return done
	}
	minv, maxv := e.update(s, bmin, bmax, func(u *tfgraph.Graph, bmin, bmax tf.Output) (tf.Output, tf.Output) {
		rmin, rmax := clipRange(u, bmin, bmax, q.Symmetric, q.NumBits, q.NarrowRange)
		return e.store(u, lo, hi, rmin, rmax, "Last")
	})
	return e.delayed(s, fakeQuant(s, x, minv, maxv, q.PerChannel, q.NumBits, q.NarrowRange), x)
}

// MovingAverage tracks the range as an exponential moving average of the
// batch ranges (tfmot's MovingAverageQuantizer, used for activations).
type MovingAverage struct {
	NumBits     int
	PerChannel  bool
	Symmetric   bool
	NarrowRange bool
	// Decay of the average; tfmot uses EMADecay.
	Decay float64
}

// ActivationsDefault is tfmot's activation quantizer with numBits bits:
// per tensor, asymmetric, full range, EMA decay 0.999 from [-6, 6].
func ActivationsDefault(numBits int) MovingAverage {
	return MovingAverage{NumBits: numBits, Decay: EMADecay}
}

// Validate implements Quantizer.
func (q MovingAverage) Validate() error {
	if err := ValidateBits(q.NumBits); err != nil {
		return err
	}
	if !(q.Decay > 0 && q.Decay < 1) {
		return fmt.Errorf("EMA decay %g must be in (0, 1)", q.Decay)
	}
	return nil
}

// Apply implements Quantizer: variables <name>_min and <name>_max.
func (q MovingAverage) Apply(e *Env, name string, x tf.Output) tf.Output {
	if !e.check(name, q) {
		return tf.Output{}
	}
	s, lo, hi, bmin, bmax, done := e.batchRanges(name, "_MovingAvgQuantize", x, q.PerChannel, q.Symmetric, q.NumBits, q.NarrowRange)
	if done != (tf.Output{}) {
		return done
	}
	minv, maxv := e.update(s, bmin, bmax, func(u *tfgraph.Graph, bmin, bmax tf.Output) (tf.Output, tf.Output) {
		rmin, rmax := clipRange(u, bmin, bmax, q.Symmetric, q.NumBits, q.NarrowRange)
		on := e.rangesActive(u)
		return emaRead(u, lo, "AssignMinEma", rmin, q.Decay, on), emaRead(u, hi, "AssignMaxEma", rmax, q.Decay, on)
	})
	y := fakeQuant(s, x, minv, maxv, q.PerChannel, q.NumBits, q.NarrowRange)
	return e.delayed(s, y, x)
}

// AllValues widens its range to every value seen so far, starting from
// [0, 0] (tfmot's AllValuesQuantizer, which quantizes a model's input).
type AllValues struct {
	NumBits     int
	Symmetric   bool
	NarrowRange bool
}

// Validate implements Quantizer.
func (q AllValues) Validate() error { return ValidateBits(q.NumBits) }

// Apply implements Quantizer: variables <name>_min and <name>_max.
func (q AllValues) Apply(e *Env, name string, x tf.Output) tf.Output {
	if !e.check(name, q) {
		return tf.Output{}
	}
	lo, hi := e.rangeVar(name+"_min", []int64{}, 0), e.rangeVar(name+"_max", []int64{}, 0)
	s := e.Graph.Scope(name + "_AllValuesQuantize")
	if !e.Training && !e.Calibrate {
		return fakeQuant(s, x, lo.Read(s, "min"), hi.Read(s, "max"), false, q.NumBits, q.NarrowRange)
	}
	widen := func(u *tfgraph.Graph, bmin, bmax tf.Output) (tf.Output, tf.Output) {
		if q.Symmetric {
			r := u.Scalar("min_max_ratio", symmetricRatio(q.NumBits, q.NarrowRange))
			bmin = u.Minimum("Minimum_sym", bmin, u.RealDiv("truediv", bmax, r))
			bmax = u.Maximum("Maximum_sym", bmax, u.Mul("mul", bmin, r))
		}
		return bmin, bmax
	}
	bmin, bmax := batchRange(s, x, false)
	if e.Calibrate {
		bmin, bmax = widen(s, bmin, bmax)
		zero := s.Scalar("zero", 0)
		return e.observe(x, lo, hi, s.Minimum("cal_min", bmin, zero), s.Maximum("cal_max", bmax, zero))
	}
	minv, maxv := e.update(s, bmin, bmax, func(u *tfgraph.Graph, bmin, bmax tf.Output) (tf.Output, tf.Output) {
		bmin, bmax = widen(u, bmin, bmax)
		zero := u.Scalar("zero", 0)
		rmin := u.Minimum("Minimum_1", u.Minimum("Minimum", lo.Read(u, "min"), bmin), zero)
		rmax := u.Maximum("Maximum_1", u.Maximum("Maximum", hi.Read(u, "max"), bmax), zero)
		return e.store(u, lo, hi, rmin, rmax, "AllValue")
	})
	return e.delayed(s, fakeQuant(s, x, minv, maxv, false, q.NumBits, q.NarrowRange), x)
}

// Learnable makes min and max trainable variables, moved by the optimizer
// with FakeQuant's own gradients with respect to them (beyond tfmot; in the
// spirit of PACT/LSQ). They start at [InitMin, InitMax] or at the values a
// calibration pass found.
type Learnable struct {
	NumBits     int
	PerChannel  bool
	NarrowRange bool
}

// Validate implements Quantizer.
func (q Learnable) Validate() error { return ValidateBits(q.NumBits) }

// Apply implements Quantizer: trainable variables <name>_min and <name>_max.
func (q Learnable) Apply(e *Env, name string, x tf.Output) tf.Output {
	if !e.check(name, q) {
		return tf.Output{}
	}
	shape := rangeShape(e.Graph, x, q.PerChannel)
	_, known := e.rec.ranges[e.key(name+"_min")]
	lo, hi := e.rangeVar(name+"_min", shape, InitMin), e.rangeVar(name+"_max", shape, InitMax)
	s := e.Graph.Scope(name + "_LearnableQuant")
	if e.Calibrate {
		bmin, bmax := batchRange(s, x, q.PerChannel)
		rmin, rmax := clipRange(s, bmin, bmax, false, q.NumBits, q.NarrowRange)
		return e.observe(x, lo, hi, rmin, rmax)
	}
	minv, maxv := lo.Read(s, "min"), hi.Read(s, "max")
	if e.Training {
		e.train(known, tfgraph.Param{Var: lo, Value: minv}, tfgraph.Param{Var: hi, Value: maxv})
	}
	y := fakeQuant(s, x, minv, maxv, q.PerChannel, q.NumBits, q.NarrowRange)
	if !e.Training {
		return y
	}
	return e.delayed(s, y, x)
}
