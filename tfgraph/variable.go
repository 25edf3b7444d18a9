package tfgraph

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"

	tf "github.com/wamuir/graft/tensorflow"
)

// Variable is a resource variable: a VarHandleOp whose shared_name is the
// variable's name (so checkpoints and SavedModels see stable names), the op
// that assigns its initial value, and helpers to read and update it.
type Variable struct {
	Name   string
	Shape  []int64
	DType  tf.DataType
	Handle tf.Output
	// Initializer assigns the initial value; group all of them with Graph.Group.
	Initializer *tf.Operation
	g           *Graph
}

// NewVariable adds a float32 resource variable named name (its full scoped
// name is the VarHandleOp's name and shared_name) initialised to init.
// The variable and its initializer ignore the view's control dependencies:
// initialisation must not wait on anything.
func (g *Graph) NewVariable(name string, init *tf.Tensor) *Variable {
	shape := init.Shape()
	g = g.variableView(name, byteSize(init))
	if g.st.err != nil {
		return &Variable{Name: name, g: g}
	}
	h := g.Op("VarHandleOp", name, nil, map[string]any{
		"dtype": init.DataType(), "shape": tf.MakeShape(shape...), "shared_name": g.prefix + name,
	})
	v := &Variable{Name: g.prefix + name, Shape: shape, DType: init.DataType(), g: g}
	if h == nil {
		return v
	}
	v.Name = h.Name()
	v.Handle = h.Output(0)
	s := g.Scope(name + "/init")
	v.Initializer = s.Op("AssignVariableOp", "Assign", []any{v.Handle, s.Const("value", init)},
		map[string]any{"dtype": init.DataType()})
	g.st.vars = append(g.st.vars, v)
	return v
}

// Variables lists every variable created in the graph, in creation order.
func (g *Graph) Variables() []*Variable { return append([]*Variable(nil), g.st.vars...) }

// InitOp returns one op that assigns every variable its initial value.
func (g *Graph) InitOp() *tf.Operation {
	ops := make([]*tf.Operation, 0, len(g.st.vars))
	for _, v := range g.st.vars {
		ops = append(ops, v.Initializer)
	}
	return g.Group("init", ops...)
}

// Read adds a ReadVariableOp. Views with control dependencies read after them.
func (v *Variable) Read(g *Graph, name string) tf.Output {
	return g.Op1("ReadVariableOp", name, []any{v.Handle}, map[string]any{"dtype": v.DType})
}

// AssignAdd adds var += delta.
func (v *Variable) AssignAdd(g *Graph, name string, delta tf.Output) *tf.Operation {
	return g.Op("AssignAddVariableOp", name, []any{v.Handle, delta}, map[string]any{"dtype": v.DType})
}

// AssignSub adds var -= delta.
func (v *Variable) AssignSub(g *Graph, name string, delta tf.Output) *tf.Operation {
	return g.Op("AssignSubVariableOp", name, []any{v.Handle, delta}, map[string]any{"dtype": v.DType})
}

// Assign adds var = value.
func (v *Variable) Assign(g *Graph, name string, value tf.Output) *tf.Operation {
	return g.Op("AssignVariableOp", name, []any{v.Handle, value}, map[string]any{"dtype": v.DType})
}

// Initializer produces a variable's initial float32 values.
type Initializer interface {
	// Values returns prod(shape) values in row-major order.
	Values(shape []int64, rng *rand.Rand) ([]float32, error)
}

// Zeros initialises to 0.
type Zeros struct{}

// Values implements Initializer.
func (Zeros) Values(shape []int64, _ *rand.Rand) ([]float32, error) {
	n, err := numElements(shape)
	return make([]float32, n), err
}

// Constant initialises every element to C.
type Constant struct{ C float32 }

// Values implements Initializer.
func (c Constant) Values(shape []int64, _ *rand.Rand) ([]float32, error) {
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = c.C
	}
	return out, nil
}

// GlorotUniform draws from U(-limit, limit), limit = sqrt(6 / (fan_in +
// fan_out)), with Keras's fan computation (receptive field times the last
// two dims). The draws come from the given seeded Go RNG, so they are
// reproducible but not the same numbers Keras would draw.
type GlorotUniform struct{}

// Values implements Initializer.
func (GlorotUniform) Values(shape []int64, rng *rand.Rand) ([]float32, error) {
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	fanIn, fanOut := fans(shape)
	limit := math.Sqrt(6 / float64(fanIn+fanOut))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((rng.Float64()*2 - 1) * limit)
	}
	return out, nil
}

// fans mirrors Keras's compute_fans.
func fans(shape []int64) (fanIn, fanOut int64) {
	switch len(shape) {
	case 0:
		return 1, 1
	case 1:
		return shape[0], shape[0]
	case 2:
		return shape[0], shape[1]
	}
	rf := int64(1)
	for _, d := range shape[:len(shape)-2] {
		rf *= d
	}
	return shape[len(shape)-2] * rf, shape[len(shape)-1] * rf
}

func numElements(shape []int64) (int, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v: negative dimension", shape)
		}
		n *= d
	}
	return int(n), nil
}

// NewTensor builds a float32 tensor of the given shape from flat values.
func NewTensor(shape []int64, values []float32) (*tf.Tensor, error) {
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	if n != len(values) {
		return nil, fmt.Errorf("shape %v needs %d values, got %d", shape, n, len(values))
	}
	if len(shape) == 0 {
		return tf.NewTensor(values[0])
	}
	t, err := tf.NewTensor(values)
	if err != nil {
		return nil, err
	}
	if err := t.Reshape(shape); err != nil {
		return nil, fmt.Errorf("reshape to %v: %w", shape, err)
	}
	return t, nil
}

// Float32s flattens a float32 tensor of any rank into row-major values.
func Float32s(t *tf.Tensor) ([]float32, error) {
	if t.DataType() != tf.Float {
		return nil, fmt.Errorf("tensor has type %s, want float32", DTypeName(t.DataType()))
	}
	var buf bytes.Buffer
	_, err := t.WriteContentsTo(&buf)
	runtime.KeepAlive(t) // see Value
	if err != nil {
		return nil, fmt.Errorf("read tensor: %w", err)
	}
	raw := buf.Bytes()
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}

// Value returns t's contents as Go values, as graft's Tensor.Value does,
// with t kept alive until they are copied. graft's Value and
// WriteContentsTo read TensorFlow's buffer after their last use of the
// *Tensor, so a garbage collection in between may run its finalizer and
// free the buffer mid-copy. Read tensors through Value and Float32s.
func Value(t *tf.Tensor) any {
	v := t.Value()
	runtime.KeepAlive(t)
	return v
}

// byteSize is the size of t's values in bytes (8 per element for 64-bit
// types, else 4: what variables here hold).
func byteSize(t *tf.Tensor) int64 {
	n, _ := numElements(t.Shape())
	switch t.DataType() {
	case tf.Int64, tf.Double, tf.Uint64:
		return 8 * int64(n)
	}
	return 4 * int64(n)
}
