package tfgraph

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"
)

// This file holds thin typed wrappers over the TF ops the project uses. Each
// adds one op through Graph.Op, so it is recorded for Gradients.

// Const adds a constant. value is anything tf.NewTensor accepts.
func (g *Graph) Const(name string, value any) tf.Output {
	if g.st.err != nil {
		return tf.Output{}
	}
	t, ok := value.(*tf.Tensor)
	if !ok {
		var err error
		if t, err = tf.NewTensor(value); err != nil {
			g.SetErr(fmt.Errorf("const %s: %w", name, err))
			return tf.Output{}
		}
	}
	return g.Op1("Const", name, nil, map[string]any{"dtype": t.DataType(), "value": t})
}

// Scalar adds a float32 scalar constant.
func (g *Graph) Scalar(name string, v float32) tf.Output { return g.Const(name, v) }

// Placeholder adds a placeholder of the given type and shape (-1 = unknown).
func (g *Graph) Placeholder(name string, dt tf.DataType, shape []int64) tf.Output {
	return g.Op1("Placeholder", name, nil, map[string]any{"dtype": dt, "shape": tf.MakeShape(shape...)})
}

// Identity adds an Identity op.
func (g *Graph) Identity(name string, x tf.Output) tf.Output {
	return g.Op1("Identity", name, []any{x}, nil)
}

// binary adds an elementwise binary op.
func (g *Graph) binary(typ, name string, x, y tf.Output) tf.Output {
	return g.Op1(typ, name, []any{x, y}, nil)
}

// unary adds an elementwise unary op.
func (g *Graph) unary(typ, name string, x tf.Output) tf.Output {
	return g.Op1(typ, name, []any{x}, nil)
}

// AddV2 adds x + y (with broadcasting), as Python's `+` does.
func (g *Graph) AddV2(name string, x, y tf.Output) tf.Output { return g.binary("AddV2", name, x, y) }

// Sub adds x - y.
func (g *Graph) Sub(name string, x, y tf.Output) tf.Output { return g.binary("Sub", name, x, y) }

// Mul adds x * y.
func (g *Graph) Mul(name string, x, y tf.Output) tf.Output { return g.binary("Mul", name, x, y) }

// RealDiv adds x / y.
func (g *Graph) RealDiv(name string, x, y tf.Output) tf.Output {
	return g.binary("RealDiv", name, x, y)
}

// DivNoNan adds x / y, with 0 where y == 0.
func (g *Graph) DivNoNan(name string, x, y tf.Output) tf.Output {
	return g.binary("DivNoNan", name, x, y)
}

// Pow adds x ** y.
func (g *Graph) Pow(name string, x, y tf.Output) tf.Output { return g.binary("Pow", name, x, y) }

// Neg adds -x.
func (g *Graph) Neg(name string, x tf.Output) tf.Output { return g.unary("Neg", name, x) }

// Square adds x * x.
func (g *Graph) Square(name string, x tf.Output) tf.Output { return g.unary("Square", name, x) }

// Sqrt adds sqrt(x).
func (g *Graph) Sqrt(name string, x tf.Output) tf.Output { return g.unary("Sqrt", name, x) }

// Rsqrt adds 1 / sqrt(x).
func (g *Graph) Rsqrt(name string, x tf.Output) tf.Output { return g.unary("Rsqrt", name, x) }

// SquaredDifference adds (x - y) * (x - y).
func (g *Graph) SquaredDifference(name string, x, y tf.Output) tf.Output {
	return g.binary("SquaredDifference", name, x, y)
}

// Maximum adds the elementwise max(x, y).
func (g *Graph) Maximum(name string, x, y tf.Output) tf.Output {
	return g.binary("Maximum", name, x, y)
}

// Minimum adds the elementwise min(x, y).
func (g *Graph) Minimum(name string, x, y tf.Output) tf.Output {
	return g.binary("Minimum", name, x, y)
}

// Relu adds max(x, 0).
func (g *Graph) Relu(name string, x tf.Output) tf.Output { return g.unary("Relu", name, x) }

// StopGradient adds an identity through which Gradients passes nothing.
func (g *Graph) StopGradient(name string, x tf.Output) tf.Output {
	return g.unary("StopGradient", name, x)
}

// ZerosLike adds a tensor of zeros with x's shape and type.
func (g *Graph) ZerosLike(name string, x tf.Output) tf.Output { return g.unary("ZerosLike", name, x) }

// Equal adds the bool tensor x == y.
func (g *Graph) Equal(name string, x, y tf.Output) tf.Output { return g.binary("Equal", name, x, y) }

// Greater adds the bool tensor x > y.
func (g *Graph) Greater(name string, x, y tf.Output) tf.Output {
	return g.binary("Greater", name, x, y)
}

// GreaterEqual adds the bool tensor x >= y.
func (g *Graph) GreaterEqual(name string, x, y tf.Output) tf.Output {
	return g.binary("GreaterEqual", name, x, y)
}

// Less adds the bool tensor x < y.
func (g *Graph) Less(name string, x, y tf.Output) tf.Output { return g.binary("Less", name, x, y) }

// LessEqual adds the bool tensor x <= y.
func (g *Graph) LessEqual(name string, x, y tf.Output) tf.Output {
	return g.binary("LessEqual", name, x, y)
}

// SelectV2 adds where(cond, x, y), broadcasting all three (tf.where).
func (g *Graph) SelectV2(name string, cond, x, y tf.Output) tf.Output {
	return g.Op1("SelectV2", name, []any{cond, x, y}, nil)
}

// AddN adds the sum of xs (which must not be empty).
func (g *Graph) AddN(name string, xs []tf.Output) tf.Output {
	if len(xs) == 1 {
		return xs[0]
	}
	return g.Op1("AddN", name, []any{xs}, nil)
}

// Cast adds a cast of x to dt.
func (g *Graph) Cast(name string, x tf.Output, dt tf.DataType) tf.Output {
	if x.Op == nil {
		return g.Op1("Cast", name, []any{x}, nil) // records the missing input
	}
	return g.Op1("Cast", name, []any{x}, map[string]any{"SrcT": x.DataType(), "DstT": dt, "Truncate": false})
}

// MatMul adds a matrix product with optional transposes.
func (g *Graph) MatMul(name string, a, b tf.Output, transposeA, transposeB bool) tf.Output {
	return g.matMul(name, a, b, map[string]any{"transpose_a": transposeA, "transpose_b": transposeB})
}

func (g *Graph) matMul(name string, a, b tf.Output, attrs map[string]any) tf.Output {
	return g.Op1("MatMul", name, []any{a, b}, attrs)
}

// Sum adds a reduction sum over the given axes.
func (g *Graph) Sum(name string, x tf.Output, axes []int32, keepDims bool) tf.Output {
	return g.reduce("Sum", name, x, axes, keepDims)
}

// Mean adds a reduction mean over the given axes (e.g. [0, 1, 2] for the
// per-channel moments of an NHWC batch).
func (g *Graph) Mean(name string, x tf.Output, axes []int32, keepDims bool) tf.Output {
	return g.reduce("Mean", name, x, axes, keepDims)
}

// Min adds a reduction min over the given axes.
func (g *Graph) Min(name string, x tf.Output, axes []int32, keepDims bool) tf.Output {
	return g.reduce("Min", name, x, axes, keepDims)
}

// Max adds a reduction max over the given axes.
func (g *Graph) Max(name string, x tf.Output, axes []int32, keepDims bool) tf.Output {
	return g.reduce("Max", name, x, axes, keepDims)
}

// reduce adds the reduction typ under a scope name: name/axes, name/typ.
func (g *Graph) reduce(typ, name string, x tf.Output, axes []int32, keepDims bool) tf.Output {
	s := g.Scope(name)
	return s.Op1(typ, typ, []any{x, s.Const("axes", axes)}, map[string]any{"keep_dims": keepDims})
}

// Reshape adds a reshape of x to a static shape.
func (g *Graph) Reshape(name string, x tf.Output, shape []int64) tf.Output {
	s := g.Scope(name)
	return s.Op1("Reshape", "Reshape", []any{x, s.Const("shape", shape)}, nil)
}

// ReshapeLike adds a reshape of x to the (dynamic) shape of like.
func (g *Graph) ReshapeLike(name string, x, like tf.Output) tf.Output {
	s := g.Scope(name)
	return s.Op1("Reshape", "Reshape", []any{x, s.Shape("shape", like)}, nil)
}

// Shape adds an op giving the dynamic shape of x as int64.
func (g *Graph) Shape(name string, x tf.Output) tf.Output {
	return g.Op1("Shape", name, []any{x}, map[string]any{"out_type": tf.Int64})
}

// ExpandDims inserts a dimension of size 1 at axis.
func (g *Graph) ExpandDims(name string, x tf.Output, axis int32) tf.Output {
	s := g.Scope(name)
	return s.Op1("ExpandDims", "ExpandDims", []any{x, s.Const("dim", axis)}, nil)
}

// Tile repeats x by multiples.
func (g *Graph) Tile(name string, x tf.Output, multiples []int64) tf.Output {
	s := g.Scope(name)
	return s.Op1("Tile", "Tile", []any{x, s.Const("multiples", multiples)}, nil)
}

// SoftmaxCrossEntropyWithLogits adds the fused op; it returns the
// per-example loss and the backprop (softmax - labels).
func (g *Graph) SoftmaxCrossEntropyWithLogits(name string, logits, labels tf.Output) (loss, backprop tf.Output) {
	op := g.Op("SoftmaxCrossEntropyWithLogits", name, []any{logits, labels}, nil)
	if op == nil {
		return tf.Output{}, tf.Output{}
	}
	return op.Output(0), op.Output(1)
}

// FakeQuantAttrs are the attributes of the FakeQuantWithMinMaxVars ops.
type FakeQuantAttrs struct {
	NumBits     int
	NarrowRange bool
}

func (a FakeQuantAttrs) attrs() map[string]any {
	return map[string]any{"num_bits": int64(a.NumBits), "narrow_range": a.NarrowRange}
}

// FakeQuantWithMinMaxVars adds fake quantization of x to [min, max].
func (g *Graph) FakeQuantWithMinMaxVars(name string, x, min, max tf.Output, a FakeQuantAttrs) tf.Output {
	return g.Op1("FakeQuantWithMinMaxVars", name, []any{x, min, max}, a.attrs())
}

// FakeQuantWithMinMaxVarsPerChannel adds per-channel (last axis) fake
// quantization of x; min and max have one entry per channel.
func (g *Graph) FakeQuantWithMinMaxVarsPerChannel(name string, x, min, max tf.Output, a FakeQuantAttrs) tf.Output {
	return g.Op1("FakeQuantWithMinMaxVarsPerChannel", name, []any{x, min, max}, a.attrs())
}

// Exp adds e**x elementwise.
func (g *Graph) Exp(name string, x tf.Output) tf.Output { return g.unary("Exp", name, x) }

// Log1p adds log(1 + x) elementwise.
func (g *Graph) Log1p(name string, x tf.Output) tf.Output { return g.unary("Log1p", name, x) }

// Select adds TensorFlow's v1 Select (Python's array_ops.where): x where
// cond holds and y elsewhere; cond, x and y have the same shape.
func (g *Graph) Select(name string, cond, x, y tf.Output) tf.Output {
	return g.Op1("Select", name, []any{cond, x, y}, nil)
}
