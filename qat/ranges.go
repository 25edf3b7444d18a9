package qat

import (
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// This file holds the range arithmetic shared by the policies, written op
// for op as tfmot's quant_ops.py so that the kernels (and the bits) match.

// batchRange returns the min and max of x: over all elements, or per
// channel (the last axis) when perChannel is set.
func batchRange(g *tfgraph.Graph, x tf.Output, perChannel bool) (lo, hi tf.Output) {
	dims, err := tfgraph.ShapeOf(x)
	if err != nil {
		g.SetErr(err)
		return
	}
	axes := make([]int32, 0, len(dims))
	for i := range dims {
		axes = append(axes, int32(i))
	}
	if perChannel {
		axes = axes[:len(axes)-1]
	}
	return g.Min("BatchMin", x, axes, false), g.Max("BatchMax", x, axes, false)
}

// symmetricRatio is tfmot's min_max_ratio: -1 for a narrow range, else
// -(2^bits - 2) / 2^bits, so that the range is symmetric on the integer grid.
func symmetricRatio(numBits int, narrow bool) float32 {
	if narrow {
		return -1
	}
	n := float64(int(1) << numBits)
	return float32(-(n - 2) / n)
}

// clipRange widens [lo, hi] as tfmot does before a range is stored: to be
// symmetric (min = min(lo, hi/ratio), max = max(hi, lo*ratio)) or else to
// contain zero.
func clipRange(g *tfgraph.Graph, lo, hi tf.Output, symmetric bool, numBits int, narrow bool) (tf.Output, tf.Output) {
	if symmetric {
		r := g.Scalar("min_max_ratio", symmetricRatio(numBits, narrow))
		return g.Minimum("Minimum", lo, g.RealDiv("truediv", hi, r)), g.Maximum("Maximum", hi, g.Mul("mul", lo, r))
	}
	zero := g.Scalar("zero", 0)
	return g.Minimum("Minimum", lo, zero), g.Maximum("Maximum", hi, zero)
}

// fakeQuant is tfmot's _FakeQuantWithMinMaxVars: the per-channel kernel when
// the range is a vector.
func fakeQuant(g *tfgraph.Graph, x, lo, hi tf.Output, perChannel bool, numBits int, narrow bool) tf.Output {
	a := tfgraph.FakeQuantAttrs{NumBits: numBits, NarrowRange: narrow}
	if perChannel {
		return g.FakeQuantWithMinMaxVarsPerChannel("FakeQuantWithMinMaxVarsPerChannel", x, lo, hi, a)
	}
	return g.FakeQuantWithMinMaxVars("FakeQuantWithMinMaxVars", x, lo, hi, a)
}

// rangeShape is the shape of a range variable for x: a scalar, or one value
// per channel of x's last axis.
func rangeShape(g *tfgraph.Graph, x tf.Output, perChannel bool) []int64 {
	if !perChannel {
		return []int64{}
	}
	dims, err := tfgraph.ShapeOf(x)
	if err != nil || len(dims) == 0 || dims[len(dims)-1] <= 0 {
		g.SetErr(errNoChannels(dims))
		return []int64{1}
	}
	return []int64{dims[len(dims)-1]}
}

// assignRead stores value in v and returns a read of v that runs after the
// store, as tfmot's `assign` followed by the FakeQuant's read.
func assignRead(g *tfgraph.Graph, v *tfgraph.Variable, name string, value tf.Output) tf.Output {
	op := v.Assign(g, name, value)
	return v.Read(g.WithControlDependencies(op), name+"/read")
}

// emaRead applies tfmot's assign_moving_average without zero-debias,
// v -= (v - value) * (1 - decay), scaled by active (1 or 0) when a schedule
// freezes the range, and returns a read after the update.
func emaRead(g *tfgraph.Graph, v *tfgraph.Variable, name string, value tf.Output, decay float64, active tf.Output) tf.Output {
	s := g.Scope(name)
	delta := s.Mul("mul", s.Sub("sub", v.Read(s, "read"), value), s.Scalar("decay", float32(1.0-decay)))
	if active != (tf.Output{}) {
		delta = s.Mul("active", delta, active)
	}
	op := v.AssignSub(s, "AssignSub", delta)
	return v.Read(g.WithControlDependencies(op), name+"/value")
}

// blend returns on*a + (1-on)*b for on in {0, 1}: exactly a or exactly b
// (for finite values), with gradients to both.
func blend(g *tfgraph.Graph, on, a, b tf.Output) tf.Output {
	off := g.Sub("off", g.Scalar("one", 1), on)
	return g.AddV2("blend", g.Mul("on_a", on, a), g.Mul("off_b", off, b))
}
