package qat

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Bit widths accepted by TensorFlow's FakeQuant kernels.
const (
	MinBits     = 2
	MaxBits     = 16
	DefaultBits = 8
)

// Quantizer is one quantization policy for one tensor.
type Quantizer interface {
	// Validate reports a configuration the FakeQuant kernels cannot run
	// correctly (bad bit width, empty or non-finite range).
	Validate() error
	// Apply adds the fake quantization of x to e's graph and returns its
	// output. Variables it needs are named <name>_min, <name>_max under the
	// Env's scope.
	Apply(e *Env, name string, x tf.Output) tf.Output
}

// FixedRange fake-quantizes to a range fixed when the graph is built, as the
// article's examples do with tf.quantization.fake_quant_with_min_max_vars.
type FixedRange struct {
	Min, Max    float32
	NumBits     int
	NarrowRange bool
}

// Symmetric returns a FixedRange over [-limit, limit] with the default bits.
func Symmetric(limit float32) FixedRange {
	return FixedRange{Min: -limit, Max: limit, NumBits: DefaultBits}
}

// Validate implements Quantizer.
func (r FixedRange) Validate() error {
	if err := ValidateBits(r.NumBits); err != nil {
		return err
	}
	return ValidateRange(r.Min, r.Max)
}

// Apply implements Quantizer.
func (r FixedRange) Apply(e *Env, name string, x tf.Output) tf.Output {
	if !e.check(name, r) {
		return tf.Output{}
	}
	s := e.Graph.Scope(name)
	return s.FakeQuantWithMinMaxVars("FakeQuantWithMinMaxVars", x, s.Scalar("min", r.Min), s.Scalar("max", r.Max),
		tfgraph.FakeQuantAttrs{NumBits: r.NumBits, NarrowRange: r.NarrowRange})
}

// ValidateBits checks that n is a bit width TensorFlow's FakeQuant accepts.
func ValidateBits(n int) error {
	if n < MinBits || n > MaxBits {
		return fmt.Errorf("num_bits %d is outside %d..%d", n, MinBits, MaxBits)
	}
	return nil
}

// ValidateRange checks that [min, max] is finite and not empty. The Vars
// kernels do not check this themselves and would produce inf/NaN.
func ValidateRange(min, max float32) error {
	for _, v := range []float32{min, max} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("range [%g, %g] is not finite", min, max)
		}
	}
	if min >= max {
		return fmt.Errorf("range [%g, %g]: min must be < max", min, max)
	}
	return nil
}
