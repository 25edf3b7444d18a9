package qat

import "math"

// Nudge returns the range TensorFlow's FakeQuant kernels actually use for
// [min, max] (fake_quant_ops_functor.h): the zero point is clamped to the
// integer grid and rounded, so 0.0 is exactly representable, and the range
// moves with it. Computed in float32, as the kernels do.
func Nudge(min, max float32, numBits int, narrowRange bool) (nudgedMin, nudgedMax, scale float32) {
	quantMin := float32(0)
	if narrowRange {
		quantMin = 1
	}
	quantMax := float32(int(1)<<numBits - 1)
	scale = (max - min) / (quantMax - quantMin)
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
	return (quantMin - zero) * scale, (quantMax - zero) * scale, scale
}

// roundHalfAway is std::round: halves round away from zero.
func roundHalfAway(x float32) float32 {
	return float32(math.Round(float64(x)))
}
