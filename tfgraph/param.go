package tfgraph

import tf "github.com/wamuir/graft/tensorflow"

// Param is a trainable variable together with the value the forward pass
// read from it: gradients are taken with respect to Value and applied to Var.
type Param struct {
	Var   *Variable
	Value tf.Output
}

// FullName returns the name an op or variable called name gets in this
// view, before any _1, _2 suffix for uniqueness.
func (g *Graph) FullName(name string) string { return g.prefix + name }
