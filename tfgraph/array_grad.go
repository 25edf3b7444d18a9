package tfgraph

import tf "github.com/wamuir/graft/tensorflow"

// Gradients of shape-only ops (tensorflow/python/ops/array_grad.py): they
// move values without arithmetic.

func registerArrayGrads(r *Registry) {
	r.Register("Identity", identityGrad)
	r.Register("Reshape", reshapeGrad)
	r.Register("ExpandDims", reshapeGrad)
	r.Register("Squeeze", reshapeGrad)
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
