package tfgraph

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"
)

// Gradients of neural-network ops, ported from
// tensorflow/python/ops/nn_grad.py.

func registerNNGrads(r *Registry) {
	r.Register("SoftmaxCrossEntropyWithLogits", softmaxCrossEntropyGrad)
	r.Register("SparseSoftmaxCrossEntropyWithLogits", sparseSoftmaxCrossEntropyGrad)
	r.Register("Relu", reluGrad)
	r.Register("Relu6", relu6Grad)
	r.Register("BiasAdd", biasAddGrad)
	r.Register("Conv2D", conv2DGrad)
	r.Register("DepthwiseConv2dNative", depthwiseConv2dNativeGrad)
	r.Register("MaxPool", maxPoolGrad)
	r.Register("AvgPool", avgPoolGrad)
	r.Register("FusedBatchNormV3", fusedBatchNormV3Grad)
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

// sparseSoftmaxCrossEntropyGrad: d logits = dloss[..., newaxis] *
// backprop, as Python's _SparseSoftmaxCrossEntropyWithLogitsGrad; the
// integer labels get none. A gradient flowing into the backprop output
// (second order) is not supported.
func sparseSoftmaxCrossEntropyGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	if dys[1].Op != nil {
		return nil, errSecondOrder
	}
	e := g.ExpandDims("ExpandDims", dys[0], -1)
	return []tf.Output{g.Mul("mul", e, n.Out(1)), {}}, nil
}

func reluGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	return []tf.Output{g.Op1("ReluGrad", "ReluGrad", []any{dys[0], n.Out(0)}, nil)}, nil
}

// relu6Grad passes the op's output to Relu6Grad, as Python's _Relu6Grad.
func relu6Grad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	return []tf.Output{g.Op1("Relu6Grad", "Relu6Grad", []any{dys[0], n.Out(0)}, nil)}, nil
}

func biasAddGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	attrs := copyAttrs(n.Attrs, "data_format")
	return []tf.Output{dys[0], g.Op1("BiasAddGrad", "BiasAddGrad", []any{dys[0]}, attrs)}, nil
}

// conv2DGrad follows Python's _Conv2DGrad: Conv2DBackpropInput and
// Conv2DBackpropFilter with the op's attributes and ShapeN of its inputs.
func conv2DGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	attrs := copyAttrs(n.Attrs, "dilations", "strides", "padding", "explicit_paddings", "use_cudnn_on_gpu", "data_format")
	shapes := g.Op("ShapeN", "ShapeN", []any{[]tf.Output{n.Inputs[0], n.Inputs[1]}}, nil)
	if shapes == nil {
		return nil, g.Err()
	}
	return []tf.Output{
		g.Op1("Conv2DBackpropInput", "Conv2DBackpropInput", []any{shapes.Output(0), n.Inputs[1], dys[0]}, attrs),
		g.Op1("Conv2DBackpropFilter", "Conv2DBackpropFilter", []any{n.Inputs[0], shapes.Output(1), dys[0]}, attrs),
	}, nil
}

// depthwiseConv2dNativeGrad follows Python's _DepthwiseConv2dNativeGrad.
func depthwiseConv2dNativeGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	attrs := copyAttrs(n.Attrs, "dilations", "strides", "padding", "explicit_paddings", "data_format")
	return []tf.Output{
		g.Op1("DepthwiseConv2dNativeBackpropInput", "DepthwiseConv2dNativeBackpropInput",
			[]any{g.shape32("Shape", n.Inputs[0]), n.Inputs[1], dys[0]}, attrs),
		g.Op1("DepthwiseConv2dNativeBackpropFilter", "DepthwiseConv2dNativeBackpropFilter",
			[]any{n.Inputs[0], g.shape32("Shape_1", n.Inputs[1]), dys[0]}, attrs),
	}, nil
}

// maxPoolGrad follows Python's _MaxPoolGrad: the MaxPoolGrad kernel on the
// op's input, output and dy. The output goes through an Identity: with
// oneDNN on, TensorFlow's graph pass rewrites a MaxPoolGrad fed directly by
// its MaxPool to oneDNN's workspace kernel, which sums the gradients of
// overlapping windows in another order than the MaxPoolGrad kernel eager
// TensorFlow (tf.GradientTape) runs; the Identity keeps that kernel.
func maxPoolGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	attrs := copyAttrs(n.Attrs, "ksize", "strides", "padding", "explicit_paddings", "data_format")
	out := g.Identity("orig_output", n.Out(0))
	return []tf.Output{g.Op1("MaxPoolGrad", "MaxPoolGrad", []any{n.Inputs[0], out, dys[0]}, attrs)}, nil
}

// avgPoolGrad follows Python's _AvgPoolGrad: AvgPoolGrad on the input's
// int32 shape.
func avgPoolGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	attrs := copyAttrs(n.Attrs, "ksize", "strides", "padding", "data_format")
	return []tf.Output{g.Op1("AvgPoolGrad", "AvgPoolGrad", []any{g.shape32("Shape", n.Inputs[0]), dys[0]}, attrs)}, nil
}

// fusedBatchNormV3Grad follows Python's _BaseFusedBatchNormGrad for NHWC
// data: FusedBatchNormGradV3 on dy, x and scale, with the op's saved batch
// statistics (reserve spaces 1 and 2) in training and its mean and variance
// inputs in inference; reserve space 3 is the op's. Gradients flow to x,
// scale and offset only; those into the op's other outputs are ignored, as
// in TensorFlow.
func fusedBatchNormV3Grad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	if n.Attrs["data_format"] != "NHWC" {
		return nil, fmt.Errorf("data_format %v: only NHWC is supported", n.Attrs["data_format"])
	}
	dy := dys[0]
	if dy.Op == nil { // only the statistics outputs are used: dy is zero
		dy = g.ZerosLike("zeros_like", n.Out(0))
	}
	r1, r2 := n.Out(3), n.Out(4)
	if training, _ := n.Attrs["is_training"].(bool); !training {
		r1, r2 = n.Inputs[3], n.Inputs[4]
	}
	attrs := copyAttrs(n.Attrs, "epsilon", "data_format", "is_training")
	op := g.Op("FusedBatchNormGradV3", "FusedBatchNormGradV3", []any{dy, n.Inputs[0], n.Inputs[1], r1, r2, n.Out(5)}, attrs)
	if op == nil {
		return nil, g.Err()
	}
	return []tf.Output{op.Output(0), op.Output(1), op.Output(2), {}, {}}, nil
}

// shape32 adds the dynamic int32 shape of x, as Python's array_ops.shape.
func (g *Graph) shape32(name string, x tf.Output) tf.Output {
	return g.Op1("Shape", name, []any{x}, map[string]any{"out_type": tf.Int32})
}
