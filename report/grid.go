package report

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/qat"
)

// Grid is a quantizer's grid of levels as TensorFlow's FakeQuant kernels
// use it: per channel (one entry per channel, or one for a per-tensor
// quantizer) the nudged range and the step between levels.
type Grid struct {
	Bits   int
	Narrow bool
	// PerChannel grids are those of FakeQuantWithMinMaxVarsPerChannel,
	// which rounds with the inverse of the scale; the per-tensor kernel
	// divides by the scale.
	PerChannel bool
	// Min, Max and Scale are the nudged ranges (qat.Nudge), per channel.
	Min, Max, Scale []float32
	// zero is each channel's zero point: the level of 0.0.
	zero []float32
}

// NewGrid nudges each channel's [min, max] as the kernels do. A channel
// whose min and max are both 0 (all its values were 0) maps everything to
// 0, as the kernels do.
func NewGrid(min, max []float32, bits int, narrow, perChannel bool) (Grid, error) {
	if err := qat.ValidateBits(bits); err != nil {
		return Grid{}, err
	}
	if len(min) != len(max) || len(min) == 0 {
		return Grid{}, fmt.Errorf("%d min values and %d max values", len(min), len(max))
	}
	g := Grid{Bits: bits, Narrow: narrow, PerChannel: perChannel}
	for c := range min {
		if min[c] == 0 && max[c] == 0 {
			g.Min, g.Max, g.Scale, g.zero = append(g.Min, 0), append(g.Max, 0), append(g.Scale, 0), append(g.zero, 0)
			continue
		}
		if err := qat.ValidateRange(min[c], max[c]); err != nil {
			return Grid{}, fmt.Errorf("channel %d: %w", c, err)
		}
		lo, hi, s := qat.Nudge(min[c], max[c], bits, narrow)
		inv := 1 / s
		zero := float32(math.Floor(float64(-lo*inv + 0.5)))
		g.Min, g.Max, g.Scale, g.zero = append(g.Min, lo), append(g.Max, hi), append(g.Scale, s), append(g.zero, zero)
	}
	return g, nil
}

// quantMin is the lowest integer code: 1 on a narrow range, else 0.
func (g Grid) quantMin() int {
	if g.Narrow {
		return 1
	}
	return 0
}

// Levels is the number of levels of each channel's grid: 2^bits, one
// fewer on a narrow range.
func (g Grid) Levels() int { return 1<<g.Bits - g.quantMin() }

// Channels is the number of channels (1 for a per-tensor grid).
func (g Grid) Channels() int { return len(g.Scale) }

// Code returns the level (0 .. Levels()-1, 0 at the nudged min) that
// FakeQuant maps x of channel c to, computed as the kernels do in
// float32: clamp to the nudged range, shift by its min, scale, subtract
// the zero point and round half up.
func (g Grid) Code(x float32, c int) int {
	if g.Scale[c] == 0 {
		return 0
	}
	lo, hi := g.Min[c], g.Max[c]
	shifted := min(max(x, lo), hi) - lo
	var scaled float32
	if g.PerChannel {
		scaled = shifted * (1 / g.Scale[c])
	} else {
		scaled = shifted / g.Scale[c]
	}
	q := float32(math.Floor(float64(scaled - g.zero[c] + 0.5)))
	return min(max(int(q+g.zero[c]), 0), g.Levels()-1)
}

// Value is the float value of level code of channel c, as the kernels
// output it: (code - zero point) * scale.
func (g Grid) Value(code, c int) float32 {
	return (float32(code) - g.zero[c]) * g.Scale[c]
}

// Usage counts the levels that values use. Values are laid out with the
// channel on the innermost axes (element i is of channel i % Channels(),
// as a kernel [..., out] with per-channel ranges on out). Used is the
// number of (channel, level) pairs hit, out of Channels()*Levels();
// Clipped counts the values outside their channel's nudged range.
func (g Grid) Usage(values []float32) (Usage, error) {
	n := g.Channels()
	if len(values)%n != 0 {
		return Usage{}, fmt.Errorf("%d values do not split into %d channels", len(values), n)
	}
	hit := make([]bool, n*g.Levels())
	u := Usage{Levels: g.Levels(), Channels: n}
	for i, x := range values {
		c := i % n
		if x < g.Min[c] || x > g.Max[c] {
			u.Clipped++
		}
		k := c*g.Levels() + g.Code(x, c)
		if !hit[k] {
			hit[k] = true
			u.Used++
		}
	}
	return u, nil
}

// Usage is how many of a grid's levels a tensor's values use.
type Usage struct {
	// Levels per channel, Channels, and Used (channel, level) pairs of
	// the Levels*Channels.
	Levels, Channels, Used int
	// Clipped is the number of values outside the range (mapped to its
	// end levels).
	Clipped int
}

// Fraction is Used over all levels of all channels.
func (u Usage) Fraction() float64 { return float64(u.Used) / float64(u.Levels*u.Channels) }

// PerChannel is the mean number of levels used per channel.
func (u Usage) PerChannel() float64 { return float64(u.Used) / float64(u.Channels) }
