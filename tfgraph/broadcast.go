package tfgraph

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"
)

// reduceTo sums grad over the axes along which x was broadcast so the result
// has x's shape, as Python's _ReduceGradientArg does: reduce_sum with
// keepdims=True, then reshape. When x already has grad's (static) shape the
// gradient passes unchanged.
func (g *Graph) reduceTo(name string, grad, x tf.Output) tf.Output {
	if grad.Op == nil || g.Err() != nil {
		return tf.Output{}
	}
	gd, err1 := ShapeOf(grad)
	xd, err2 := ShapeOf(x)
	if err1 == nil && err2 == nil && fullyDefined(gd) && fullyDefined(xd) {
		if SameShape(gd, xd) {
			return grad
		}
		if len(xd) > len(gd) {
			g.SetErr(fmt.Errorf("%s: input shape %v is larger than its gradient's %v", name, xd, gd))
			return tf.Output{}
		}
		var axes []int32
		off := len(gd) - len(xd)
		for i := range gd {
			if i < off || (xd[i-off] == 1 && gd[i] != 1) {
				axes = append(axes, int32(i))
			}
		}
		s := g.Scope(name)
		return s.Reshape("Reshape", s.Sum("Sum", grad, axes, true), xd)
	}
	// Shapes known only at run time: BroadcastGradientArgs gives the axes.
	s := g.Scope(name)
	sx := s.Op1("Shape", "Shape", []any{x}, map[string]any{"out_type": tf.Int32})
	sg := s.Op1("Shape", "ShapeGrad", []any{grad}, map[string]any{"out_type": tf.Int32})
	args := s.Op("BroadcastGradientArgs", "BroadcastGradientArgs", []any{sx, sg}, nil)
	if args == nil {
		return tf.Output{}
	}
	sum := s.Op1("Sum", "Sum", []any{grad, args.Output(0)}, map[string]any{"keep_dims": true})
	return s.Op1("Reshape", "Reshape", []any{sum, sx}, nil)
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// constInt64s returns the values of a Const int32/int64 output, if o is one.
func (g *Graph) constInt64s(o tf.Output) ([]int64, bool) {
	n := g.Node(o.Op)
	if n == nil || n.Type() != "Const" {
		return nil, false
	}
	t, ok := n.Attrs["value"].(*tf.Tensor)
	if !ok {
		return nil, false
	}
	switch v := Value(t).(type) {
	case int32:
		return []int64{int64(v)}, true
	case int64:
		return []int64{v}, true
	case []int32:
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out, true
	case []int64:
		return v, true
	}
	return nil, false
}

// scalarConst adds a scalar constant v of type dt (float32 or float64
// directly, other types through a Cast), as Python converts a number to a
// gradient's dtype.
func (g *Graph) scalarConst(name string, v float64, dt tf.DataType) tf.Output {
	switch dt {
	case tf.Float:
		return g.Const(name, float32(v))
	case tf.Double:
		return g.Const(name, v)
	}
	return g.Cast(name, g.Const(name+"_f32", float32(v)), dt)
}
