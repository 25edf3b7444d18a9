package tfgraph

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"
)

// Ops whose gradient is TensorFlow's own C++ one (tensorflow/cc/gradients),
// obtained by calling TF_AddGradients on that single op: y = its outputs,
// x = its float inputs, dx = the upstream gradients. Only ops whose C++
// gradient is defined for every float input belong here: graft cannot tell
// a missing (null) gradient output from a real one.
var ccGradOps = []string{
	"Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Exp", "Log",
}

func registerCCGrads(r *Registry) {
	for _, t := range ccGradOps {
		r.Register(t, ccGrad)
	}
}

// ccGrad reuses the C++ gradient of one op.
func ccGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	var ys, dxs []tf.Output
	for i, dy := range dys {
		if dy.Op == nil {
			dy = g.Op1("ZerosLike", fmt.Sprintf("zeros_%d", i), []any{n.Out(i)}, nil)
		}
		ys = append(ys, n.Out(i))
		dxs = append(dxs, dy)
	}
	var xs []tf.Output
	var idx []int
	for i, in := range n.Inputs {
		if isFloat(in.DataType()) {
			xs = append(xs, in)
			idx = append(idx, i)
		}
	}
	if err := g.Err(); err != nil {
		return nil, err
	}
	grads, err := g.st.g.AddGradients(g.uniqueName("cc"), ys, xs, dxs)
	if err != nil {
		return nil, fmt.Errorf("TensorFlow C++ gradient: %w", err)
	}
	out := make([]tf.Output, len(n.Inputs))
	for k, i := range idx {
		out[i] = grads[k]
	}
	return out, nil
}
