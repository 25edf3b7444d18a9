package tfgraph

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"
)

// Gradients of shape-only ops (tensorflow/python/ops/array_grad.py): they
// move values without arithmetic.

func registerArrayGrads(r *Registry) {
	r.Register("Identity", identityGrad)
	r.Register("Reshape", reshapeGrad)
	r.Register("ExpandDims", reshapeGrad)
	r.Register("Squeeze", reshapeGrad)
	r.Register("ConcatV2", concatV2Grad)
	r.Register("Pad", padGrad)
	r.NotDifferentiable("StopGradient", "ZerosLike", "OnesLike", "Shape")
}

func identityGrad(_ *Graph, _ *Node, dys []tf.Output) ([]tf.Output, error) {
	return []tf.Output{dys[0]}, nil
}

// reshapeGrad reshapes dy back to the input's shape (static when known).
func reshapeGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	x := n.Inputs[0]
	out := make([]tf.Output, len(n.Inputs))
	if dims, err := ShapeOf(x); err == nil && fullyDefined(dims) {
		out[0] = g.Reshape("Reshape", dys[0], dims)
	} else {
		out[0] = g.ReshapeLike("Reshape", dys[0], x)
	}
	return out, nil
}

// concatV2Grad gives each of ConcatV2's values its part of dy: the slice
// at the value's offset along the (non-negative) axis, from ConcatOffset
// over the values' shapes, as TensorFlow's Python gradient builds it for
// up to 16 values. The axis gets none. Slices copy, so the values are
// exact.
func concatV2Grad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	values, axis := n.Inputs[:len(n.Inputs)-1], n.Inputs[len(n.Inputs)-1]
	if axis.DataType() != tf.Int32 {
		axis = g.Cast("axis", axis, tf.Int32)
	}
	dim := g.Op1("FloorMod", "non_neg_axis", []any{axis, g.Op1("Rank", "rank", []any{values[0]}, nil)}, nil)
	shapes := g.Op("ShapeN", "shapes", []any{values}, map[string]any{"out_type": tf.Int32})
	if shapes == nil {
		return nil, g.Err()
	}
	sizes := make([]tf.Output, len(values))
	for i := range values {
		sizes[i] = shapes.Output(i)
	}
	offsets := g.Op("ConcatOffset", "offsets", []any{dim, sizes}, nil)
	if offsets == nil {
		return nil, g.Err()
	}
	out := make([]tf.Output, len(n.Inputs))
	for i := range values {
		out[i] = g.Op1("Slice", fmt.Sprintf("slice_%d", i), []any{dys[0], offsets.Output(i), sizes[i]}, nil)
	}
	return out, nil
}

// padGrad gives Pad's input the part of dy inside the padding: a slice
// that begins at each axis's leading pad (the paddings' first column) and
// has the input's shape, as TensorFlow's Python gradient takes it. The
// paddings get none.
func padGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	x, paddings := n.Inputs[0], n.Inputs[1]
	rank := g.Op1("Rank", "rank", []any{x}, nil)
	width := g.Op1("Pack", "size", []any{[]tf.Output{rank, g.Const("one", int32(1))}}, map[string]any{"axis": int64(0)})
	before := g.Op1("Slice", "pad_before", []any{paddings, g.Const("begin", []int32{0, 0}), g.Cast("size_cast", width, paddings.DataType())}, nil)
	begin := g.Reshape("begin_flat", before, []int64{-1})
	size := g.Op1("Shape", "x_shape", []any{x}, map[string]any{"out_type": paddings.DataType()})
	return []tf.Output{g.Op1("Slice", "Slice", []any{dys[0], begin, size}, nil), {}}, nil
}
