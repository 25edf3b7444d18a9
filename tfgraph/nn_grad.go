package tfgraph

import tf "github.com/wamuir/graft/tensorflow"

// Gradients of neural-network ops, ported from
// tensorflow/python/ops/nn_grad.py.

func registerNNGrads(r *Registry) {
	r.Register("SoftmaxCrossEntropyWithLogits", softmaxCrossEntropyGrad)
	r.Register("Relu", reluGrad)
	r.Register("Relu6", relu6Grad)
	r.Register("BiasAdd", biasAddGrad)
}

// softmaxCrossEntropyGrad: d logits = dloss[..., newaxis] * backprop and
// d labels = dloss[..., newaxis] * -log_softmax(logits). A gradient flowing
// into the backprop output (second order) is not supported.
func softmaxCrossEntropyGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	if dys[1].Op != nil {
		return nil, errSecondOrder
	}
	e := g.ExpandDims("ExpandDims", dys[0], -1)
	dLogits := g.Mul("mul", e, n.Out(1))
	e1 := g.ExpandDims("ExpandDims_1", dys[0], -1)
	dLabels := g.Mul("mul_1", e1, g.Neg("Neg", g.Op1("LogSoftmax", "LogSoftmax", []any{n.Inputs[0]}, nil)))
	return []tf.Output{dLogits, dLabels}, nil
}

func reluGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	return []tf.Output{g.Op1("ReluGrad", "ReluGrad", []any{dys[0], n.Out(0)}, nil)}, nil
}

func relu6Grad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	return []tf.Output{g.Op1("Relu6Grad", "Relu6Grad", []any{dys[0], n.Inputs[0]}, nil)}, nil
}

func biasAddGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	attrs := copyAttrs(n.Attrs, "data_format")
	return []tf.Output{dys[0], g.Op1("BiasAddGrad", "BiasAddGrad", []any{dys[0]}, attrs)}, nil
}
