package tfgraph

import (
	"errors"

	tf "github.com/wamuir/graft/tensorflow"
)

// Gradients of the FakeQuant ops. TensorFlow has no C++ gradient for them;
// Python registers these, which call the *Gradient kernels: the input
// gradient passes where nudged_min <= x <= nudged_max, and the min/max
// gradients sum the upstream gradient below / above the range.

var errSecondOrder = errors.New("second-order gradient is not supported")

func registerQuantGrads(r *Registry) {
	r.Register("FakeQuantWithMinMaxVars", fakeQuantVarsGrad("FakeQuantWithMinMaxVarsGradient"))
	r.Register("FakeQuantWithMinMaxVarsPerChannel", fakeQuantVarsGrad("FakeQuantWithMinMaxVarsPerChannelGradient"))
	r.Register("FakeQuantWithMinMaxArgs", fakeQuantArgsGrad)
}

func fakeQuantVarsGrad(gradOp string) GradFunc {
	return func(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
		attrs := copyAttrs(n.Attrs, "num_bits", "narrow_range")
		op := g.Op(gradOp, gradOp, []any{dys[0], n.Inputs[0], n.Inputs[1], n.Inputs[2]}, attrs)
		if op == nil {
			return nil, g.Err()
		}
		return []tf.Output{op.Output(0), op.Output(1), op.Output(2)}, nil
	}
}

func fakeQuantArgsGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	attrs := copyAttrs(n.Attrs, "min", "max", "num_bits", "narrow_range")
	return []tf.Output{g.Op1("FakeQuantWithMinMaxArgsGradient", "FakeQuantWithMinMaxArgsGradient", []any{dys[0], n.Inputs[0]}, attrs)}, nil
}

// copyAttrs returns the given attributes of a node that were set explicitly.
func copyAttrs(attrs map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		if v, ok := attrs[k]; ok {
			out[k] = v
		}
	}
	return out
}
