package qat

import "math"

// Nudge returns the range TensorFlow's FakeQuant kernels actually use for
// [min, max] (fake_quant_ops_functor.h): the zero point is clamped to the
// integer grid and rounded, so 0.0 is exactly representable, and the range
// moves with it. Computed in float32, as the kernels do.
func Nudge(min, max float32, numBits int, narrowRange bool) (nudgedMin, nudgedMax, scale float32) {
	g := NudgeGrid(min, max, numBits, narrowRange)
	return g.Min, g.Max, g.Scale
}

// Grid is the integer grid a FakeQuant kernel puts a range on: the values
// it gives are Min + k*Scale for k in 0..QuantMax-QuantMin, and ZeroPoint
// is the integer (in QuantMin..QuantMax) that 0.0 falls on.
type Grid struct {
	Min, Max, Scale    float32
	ZeroPoint          int64
	QuantMin, QuantMax int64
}

// NudgeGrid returns the grid of Nudge with its zero point and integer
// bounds (QuantMin is 1 for a narrow range, else 0; QuantMax 2^bits-1).
func NudgeGrid(min, max float32, numBits int, narrowRange bool) Grid {
	quantMin := float32(0)
	if narrowRange {
		quantMin = 1
	}
	quantMax := float32(int(1)<<numBits - 1)
	scale := (max - min) / (quantMax - quantMin)
	zeroFromMin := quantMin - min/scale
	var zero float32
	switch {
	case zeroFromMin < quantMin:
		zero = quantMin
	case zeroFromMin > quantMax:
		zero = quantMax
	default:
		zero = roundHalfAway(zeroFromMin)
	}
	return Grid{Min: (quantMin - zero) * scale, Max: (quantMax - zero) * scale, Scale: scale,
		ZeroPoint: int64(zero), QuantMin: int64(quantMin), QuantMax: int64(quantMax)}
}

// roundHalfAway is std::round: halves round away from zero.
func roundHalfAway(x float32) float32 {
	return float32(math.Round(float64(x)))
}
