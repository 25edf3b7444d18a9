package tfgraph

import (
	"fmt"
	"sort"

	tf "github.com/wamuir/graft/tensorflow"
)

// GradFunc computes the gradients of one op. dys has one entry per output of
// the op (a zero Output where nothing flows back into that output); it
// returns one entry per input (a zero Output for inputs without a gradient).
// g is a view scoped for the gradient ops of this node.
type GradFunc func(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error)

// Registry maps op types to gradient functions. The zero value is empty;
// DefaultRegistry returns one holding every gradient this package provides.
type Registry struct {
	funcs map[string]GradFunc
	none  map[string]bool // op types registered as not differentiable
}

// Register sets the gradient function for an op type, replacing any other
// (or a NotDifferentiable mark).
func (r *Registry) Register(opType string, f GradFunc) {
	if r.funcs == nil {
		r.funcs = map[string]GradFunc{}
	}
	delete(r.none, opType)
	r.funcs[opType] = f
}

// NotDifferentiable marks op types through which no gradient flows, as
// Python's ops.NotDifferentiable does (StopGradient, comparisons, ZerosLike):
// Gradients gives their inputs nothing and reaching one is not an error.
// It replaces any gradient function registered for them.
func (r *Registry) NotDifferentiable(opTypes ...string) {
	if r.none == nil {
		r.none = map[string]bool{}
	}
	for _, t := range opTypes {
		delete(r.funcs, t)
		r.none[t] = true
	}
}

// IsNotDifferentiable reports whether an op type was marked with
// NotDifferentiable.
func (r *Registry) IsNotDifferentiable(opType string) bool { return r.none[opType] }

// Lookup returns the gradient function for an op type. For a type marked
// NotDifferentiable it returns a function giving no gradient to any input.
func (r *Registry) Lookup(opType string) (GradFunc, bool) {
	if r.none[opType] {
		return noGradient, true
	}
	f, ok := r.funcs[opType]
	return f, ok
}

// OpTypes lists the registered op types, those marked NotDifferentiable
// included.
func (r *Registry) OpTypes() []string {
	out := make([]string, 0, len(r.funcs)+len(r.none))
	for k := range r.funcs {
		out = append(out, k)
	}
	for k := range r.none {
		out = append(out, k)
	}
	return out
}

// noGradient is the gradient of a not-differentiable op: nothing flows back.
func noGradient(_ *Graph, n *Node, _ []tf.Output) ([]tf.Output, error) {
	return make([]tf.Output, len(n.Inputs)), nil
}

// DefaultRegistry returns a new registry with this package's gradients:
// Go ports of TensorFlow's Python gradient functions (math, nn, array,
// fake-quant), and TensorFlow's C++ gradients for the ops in cc_grad.go.
func DefaultRegistry() *Registry {
	r := &Registry{}
	registerMathGrads(r)
	registerArrayGrads(r)
	registerNNGrads(r)
	registerQuantGrads(r)
	registerCCGrads(r)
	return r
}

// Gradients adds ops computing d(sum of ys)/d(xs), walking back from ys
// through ops recorded in g and calling reg for each op's gradient. dys, if
// not nil, are the upstream gradients for ys (default: ones). The result has
// one entry per x; an x that ys do not depend on gets a zero Output.
// An op on a path from xs to ys that a gradient flows into and that has no
// registered gradient is an error naming the op and the path from the loss
// to it; ops marked NotDifferentiable (StopGradient, ...) stop the flow, so
// an x reached only through them gets a zero Output, as in TensorFlow.
// Ops are visited in tf.GradientTape's order (a queue that an op joins
// when its last consumer is done, in that consumer's input order), so the
// parts of a gradient are summed in the tape's order too.
func (g *Graph) Gradients(reg *Registry, ys, xs, dys []tf.Output) ([]tf.Output, error) {
	return g.gradients(reg, ys, xs, dys, false)
}

// GradientsColocated is Gradients with each op's gradient ops placed on
// the device of the op (as TF1's colocate_gradients_with_ops), whatever
// g's device: the gradient of a model whose parts run on several devices
// (the replicas of a data-parallel step on their workers, what they share
// on the parameter servers) then runs where its forward pass did. The
// upstream ones for ys go on ys' devices, the sum of an x's gradient parts
// on x's device.
func (g *Graph) GradientsColocated(reg *Registry, ys, xs, dys []tf.Output) ([]tf.Output, error) {
	return g.gradients(reg, ys, xs, dys, true)
}

// gradients is Gradients, with each op's gradient on the op's device if
// colocate.
func (g *Graph) gradients(reg *Registry, ys, xs, dys []tf.Output, colocate bool) ([]tf.Output, error) {
	at := func(v *Graph, o *tf.Operation) *Graph {
		if colocate {
			return v.WithDevice(o.Device())
		}
		return v
	}
	if err := g.Err(); err != nil {
		return nil, err
	}
	if dys != nil && len(dys) != len(ys) {
		return nil, fmt.Errorf("gradients: %d upstream gradients for %d ys", len(dys), len(ys))
	}
	for _, o := range append(append([]tf.Output(nil), ys...), xs...) {
		if g.Node(o.Op) == nil {
			return nil, fmt.Errorf("gradients: %s was not built through this graph", describe(o))
		}
	}
	// Ops reachable forward from xs and backward from ys.
	fwd := map[string]bool{}
	stack := []string{}
	for _, x := range xs {
		if !fwd[x.Op.Name()] {
			fwd[x.Op.Name()] = true
			stack = append(stack, x.Op.Name())
		}
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range g.st.consumers[n] {
			if !fwd[c] && !unrecorded(reg, g.st.nodes[c]) {
				fwd[c] = true
				stack = append(stack, c)
			}
		}
	}
	// Backward from ys, keeping for each op the consumer we reached it from
	// (for error paths).
	parent := map[string]string{}
	between := map[string]bool{}
	for _, y := range ys {
		n := y.Op.Name()
		if fwd[n] && !between[n] {
			between[n] = true
			parent[n] = ""
			stack = append(stack, n)
		}
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, in := range g.st.nodes[n].Inputs {
			p := in.Op.Name()
			if fwd[p] && !between[p] {
				between[p] = true
				parent[p] = n
				stack = append(stack, p)
			}
		}
	}
	// pending[op] = number of input edges from between-ops consuming op.
	pending := map[string]int{}
	for n := range between {
		for _, in := range g.st.nodes[n].Inputs {
			if between[in.Op.Name()] {
				pending[in.Op.Name()]++
			}
		}
	}
	grads := map[tf.Output][]tf.Output{}
	for i, y := range ys {
		var dy tf.Output
		if dys != nil {
			dy = dys[i]
		} else {
			dy = at(g, y.Op).onesLike(y)
		}
		grads[y] = append(grads[y], dy)
	}
	var ready []string
	for n := range between {
		if pending[n] == 0 {
			ready = append(ready, n)
		}
	}
	sort.Strings(ready) // deterministic op names
	gs := g.Scope("gradients")
	for len(ready) > 0 {
		name := ready[0]
		ready = ready[1:]
		node := g.st.nodes[name]
		// Does anything flow on to another op on the path?
		needs := false
		for _, in := range node.Inputs {
			if between[in.Op.Name()] {
				needs = true
				break
			}
		}
		if needs {
			dxs, err := g.opGradient(at(gs, node.Op), reg, node, grads, parent)
			if err != nil {
				return nil, err
			}
			for i, in := range node.Inputs {
				if between[in.Op.Name()] && i < len(dxs) && dxs[i].Op != nil {
					grads[in] = append(grads[in], dxs[i])
				}
			}
		}
		// Ops whose last consumer this was queue up in input order, as in
		// tf.GradientTape; so the parts of a tensor's gradient arrive, and
		// are summed, in the tape's order.
		for _, in := range node.Inputs {
			p := in.Op.Name()
			if !between[p] {
				continue
			}
			pending[p]--
			if pending[p] == 0 {
				ready = append(ready, p)
			}
		}
	}
	out := make([]tf.Output, len(xs))
	for i, x := range xs {
		out[i] = at(gs, x.Op).sumGrads(x, grads[x])
	}
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("gradients: %w", err)
	}
	return out, nil
}

// unrecorded reports whether tf.GradientTape never sees the op: Python's
// tf.stop_gradient runs StopGradient with recording stopped, so to the tape
// its output is a constant and the op no consumer of its input. Leaving it
// off the path keeps the order in which the gradient parts of that input
// are computed, and so summed, the tape's (tf.nn.moments: the mean's part
// of d x comes before the variance's).
func unrecorded(reg *Registry, n *Node) bool {
	return n.Type() == "StopGradient" && reg.IsNotDifferentiable("StopGradient")
}

// opGradient aggregates the upstream gradients of node's outputs and calls
// its registered gradient function.
func (g *Graph) opGradient(gs *Graph, reg *Registry, node *Node, grads map[tf.Output][]tf.Output, parent map[string]string) ([]tf.Output, error) {
	if reg.IsNotDifferentiable(node.Type()) {
		return nil, nil
	}
	s := gs.Scope(node.Name())
	dys := make([]tf.Output, node.Op.NumOutputs())
	any := false
	for i := range dys {
		o := node.Op.Output(i)
		dys[i] = s.sumGrads(o, grads[o])
		any = any || dys[i].Op != nil
	}
	if !any {
		// Nothing flows into this op (e.g. it only feeds a StopGradient):
		// as in TensorFlow, it needs no gradient function.
		return nil, nil
	}
	f, ok := reg.Lookup(node.Type())
	if !ok {
		path := []string{}
		for n := node.Name(); n != ""; n = parent[n] {
			path = append([]string{fmt.Sprintf("%s (%s)", n, g.st.nodes[n].Type())}, path...)
		}
		return nil, fmt.Errorf("gradients: no gradient registered for op type %s (op %s); path from the loss: %s",
			node.Type(), node.Name(), joinPath(path))
	}
	dxs, err := f(s, node, dys)
	if err != nil {
		return nil, fmt.Errorf("gradient of %s (%s): %w", node.Name(), node.Type(), err)
	}
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("gradient of %s (%s): %w", node.Name(), node.Type(), err)
	}
	return dxs, nil
}

// sumGrads adds up the gradient contributions to one output with AddN, as
// TensorFlow's Python gradients do.
func (g *Graph) sumGrads(o tf.Output, parts []tf.Output) tf.Output {
	switch len(parts) {
	case 0:
		return tf.Output{}
	case 1:
		return parts[0]
	}
	return g.AddN(fmt.Sprintf("sum_%s_%d", o.Op.Name(), o.Index), parts)
}

// onesLike adds a tensor of ones shaped like y (a scalar 1 for scalars,
// matching tf.GradientTape's default output gradient).
func (g *Graph) onesLike(y tf.Output) tf.Output {
	dims, err := ShapeOf(y)
	if err == nil && len(dims) == 0 {
		return g.Const("ones", float32(1))
	}
	return g.Op1("OnesLike", "ones", []any{y}, nil)
}
