package tfgraph

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
)

// Node is one operation added through a Graph, with what it was built from.
type Node struct {
	Op     *tf.Operation
	Inputs []tf.Output
	Attrs  map[string]any
}

// Type returns the node's op type, e.g. "MatMul".
func (n *Node) Type() string { return n.Op.Type() }

// Name returns the node's unique name in the graph.
func (n *Node) Name() string { return n.Op.Name() }

// Out returns the node's i-th output.
func (n *Node) Out(i int) tf.Output { return n.Op.Output(i) }

// state is what all views (scopes) of one graph share.
type state struct {
	g         *tf.Graph
	nodes     map[string]*Node
	consumers map[string][]string // producer op name -> consumer op names (with repeats)
	used      map[string]int
	vars      []*Variable
	err       error
}

// Graph is a TensorFlow graph under construction. A Graph value is a view:
// Scope and WithControlDependencies return views that share the same
// underlying graph but add a name prefix or control inputs to new ops.
type Graph struct {
	st     *state
	prefix string
	ctrl   []*tf.Operation
	device string
	home   *varHome
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	var g *tf.Graph
	WithProfSignalBlocked(func() { g = tf.NewGraph() })
	return &Graph{st: &state{
		g:         g,
		nodes:     map[string]*Node{},
		consumers: map[string][]string{},
		used:      map[string]int{},
	}}
}

// TF returns the underlying graft graph, for sessions and export.
func (g *Graph) TF() *tf.Graph { return g.st.g }

// Err returns the first error met while building, or nil.
func (g *Graph) Err() error { return g.st.err }

// SetErr records err (with context) as the graph's error unless one is
// already recorded. Layers use it to report invalid configuration.
func (g *Graph) SetErr(err error) {
	if err != nil && g.st.err == nil {
		g.st.err = err
	}
}

// Scope returns a view whose new ops are named under name/.
func (g *Graph) Scope(name string) *Graph {
	return &Graph{st: g.st, prefix: g.uniqueName(name) + "/", ctrl: g.ctrl, device: g.device, home: g.home}
}

// WithDevice returns a view whose new ops are placed on device, e.g.
// "/job:ps/task:0" or "/job:worker/task:1/device:CPU:0", as tf.device
// does in Python; "" leaves placement to TensorFlow. It is how the ops
// of one graph are spread over the tasks of a cluster.
func (g *Graph) WithDevice(device string) *Graph {
	return &Graph{st: g.st, prefix: g.prefix, ctrl: g.ctrl, device: device, home: g.home}
}

// Device returns the device the view places new ops on ("" for none).
func (g *Graph) Device() string { return g.device }

// WithControlDependencies returns a view whose new ops run after ops.
func (g *Graph) WithControlDependencies(ops ...*tf.Operation) *Graph {
	ctrl := append(append([]*tf.Operation(nil), g.ctrl...), ops...)
	return &Graph{st: g.st, prefix: g.prefix, ctrl: ctrl, device: g.device, home: g.home}
}

// Node returns the recorded node for an op, or nil if the op was not added
// through this graph (e.g. it came from TF_AddGradients).
func (g *Graph) Node(op *tf.Operation) *Node {
	if op == nil {
		return nil
	}
	return g.st.nodes[op.Name()]
}

// uniqueName returns prefix+name, suffixed _1, _2, ... if already used.
func (g *Graph) uniqueName(name string) string {
	full := g.prefix + name
	n := g.st.used[full]
	g.st.used[full] = n + 1
	if n == 0 && g.st.g.Operation(full) == nil {
		return full
	}
	for {
		cand := full + "_" + strconv.Itoa(n)
		if g.st.used[cand] == 0 && g.st.g.Operation(cand) == nil {
			g.st.used[cand] = 1
			return cand
		}
		n++
	}
}

// Op adds an operation of type typ with the given inputs (tf.Output or
// []tf.Output for list inputs) and attributes, and returns it. name may be
// empty (the type is used). On error it returns nil and records the error.
func (g *Graph) Op(typ, name string, inputs []any, attrs map[string]any) *tf.Operation {
	if g.st.err != nil {
		return nil
	}
	if name == "" {
		name = typ
	}
	full := g.uniqueName(name)
	spec := tf.OpSpec{Type: typ, Name: full, Attrs: attrs, Device: g.device}
	var flat []tf.Output
	for i, in := range inputs {
		switch v := in.(type) {
		case tf.Output:
			if v.Op == nil {
				g.SetErr(fmt.Errorf("op %s (%s): input %d is missing", full, typ, i))
				return nil
			}
			spec.Input = append(spec.Input, v)
			flat = append(flat, v)
		case []tf.Output:
			for j, o := range v {
				if o.Op == nil {
					g.SetErr(fmt.Errorf("op %s (%s): input %d[%d] is missing", full, typ, i, j))
					return nil
				}
			}
			spec.Input = append(spec.Input, tf.OutputList(v))
			flat = append(flat, v...)
		default:
			g.SetErr(fmt.Errorf("op %s (%s): input %d has type %T, want tf.Output or []tf.Output", full, typ, i, in))
			return nil
		}
	}
	spec.ControlDependencies = g.ctrl
	op, err := g.st.g.AddOperation(spec)
	if err != nil {
		g.SetErr(fmt.Errorf("op %s (%s): %w", full, typ, err))
		return nil
	}
	g.st.nodes[full] = &Node{Op: op, Inputs: flat, Attrs: attrs}
	for _, in := range flat {
		p := in.Op.Name()
		g.st.consumers[p] = append(g.st.consumers[p], full)
	}
	return op
}

// Op1 is Op for single-output ops: it returns output 0 (zero Output on error).
func (g *Graph) Op1(typ, name string, inputs []any, attrs map[string]any) tf.Output {
	op := g.Op(typ, name, inputs, attrs)
	if op == nil {
		return tf.Output{}
	}
	return op.Output(0)
}

// Group returns a NoOp that runs after all ops (the init op, a train op).
func (g *Graph) Group(name string, ops ...*tf.Operation) *tf.Operation {
	for _, op := range ops {
		if op == nil {
			g.SetErr(fmt.Errorf("group %s: a member op is missing", name))
			return nil
		}
	}
	return g.WithControlDependencies(ops...).Op("NoOp", name, nil, nil)
}

// ShapeOf returns the static shape of o as int64 dims (-1 for unknown), or
// an error if even the rank is unknown.
func ShapeOf(o tf.Output) ([]int64, error) {
	if o.Op == nil {
		return nil, errors.New("shape of a missing output")
	}
	s := o.Shape()
	if s.NumDimensions() < 0 {
		return nil, fmt.Errorf("%s:%d has unknown rank", o.Op.Name(), o.Index)
	}
	dims, err := s.ToSlice()
	if err != nil {
		// Some dimension is unknown: report them as -1.
		dims = make([]int64, s.NumDimensions())
		for i := range dims {
			dims[i] = s.Size(i)
		}
	}
	return dims, nil
}

// fullyDefined reports whether every dim is known.
func fullyDefined(dims []int64) bool {
	for _, d := range dims {
		if d < 0 {
			return false
		}
	}
	return true
}

// describe names an output for error messages.
func describe(o tf.Output) string {
	if o.Op == nil {
		return "<missing>"
	}
	return fmt.Sprintf("%s:%d (%s)", o.Op.Name(), o.Index, o.Op.Type())
}

// joinPath renders a list of node names for error messages.
func joinPath(names []string) string { return strings.Join(names, " <- ") }
