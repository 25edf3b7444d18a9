package tfgraph

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"
)

// Gradients of math ops, ported from tensorflow/python/ops/math_grad.py so
// that the same kernels run on the same values in the same order.

func registerMathGrads(r *Registry) {
	r.Register("AddV2", addGrad)
	r.Register("Add", addGrad)
	r.Register("Sub", subGrad)
	r.Register("Mul", mulGrad)
	r.Register("RealDiv", realDivGrad)
	r.Register("DivNoNan", divNoNanGrad)
	r.Register("Neg", negGrad)
	r.Register("Square", squareGrad)
	r.Register("Sqrt", sqrtGrad)
	r.Register("AddN", addNGrad)
	r.Register("Sum", sumGrad)
	r.Register("Mean", meanGrad)
	r.Register("MatMul", matMulGrad)
	r.Register("Cast", castGrad)
	r.Register("Rsqrt", rsqrtGrad)
	r.Register("SquaredDifference", squaredDifferenceGrad)
	r.Register("Maximum", maximumGrad)
	r.Register("Minimum", minimumGrad)
	r.Register("Min", minOrMaxGrad)
	r.Register("Max", minOrMaxGrad)
	r.Register("SelectV2", selectV2Grad)
	r.Register("Select", selectGrad)
	r.Register("Exp", expGrad)
	r.Register("Log1p", log1pGrad)
	r.NotDifferentiable("Less", "LessEqual", "Greater", "GreaterEqual", "Equal", "NotEqual")
}

func addGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	x, y, dy := n.Inputs[0], n.Inputs[1], dys[0]
	return []tf.Output{g.reduceTo("rx", dy, x), g.reduceTo("ry", dy, y)}, nil
}

func subGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	x, y, dy := n.Inputs[0], n.Inputs[1], dys[0]
	return []tf.Output{g.reduceTo("rx", dy, x), g.reduceTo("ry", g.Neg("Neg", dy), y)}, nil
}

func mulGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	x, y, dy := n.Inputs[0], n.Inputs[1], dys[0]
	return []tf.Output{
		g.reduceTo("rx", g.Mul("mul", dy, y), x),
		g.reduceTo("ry", g.Mul("mul_1", x, dy), y),
	}, nil
}

// realDivGrad: dx = dy / y; dy_y = dy * ((-x / y) / y).
func realDivGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	x, y, dy := n.Inputs[0], n.Inputs[1], dys[0]
	gy := g.Mul("mul", dy, g.RealDiv("truediv_2", g.RealDiv("truediv_1", g.Neg("Neg", x), y), y))
	return []tf.Output{g.reduceTo("rx", g.RealDiv("truediv", dy, y), x), g.reduceTo("ry", gy, y)}, nil
}

// divNoNanGrad mirrors realDivGrad with DivNoNan.
func divNoNanGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	x, y, dy := n.Inputs[0], n.Inputs[1], dys[0]
	gx := g.DivNoNan("div_no_nan", dy, y)
	gy := g.Mul("mul", dy, g.DivNoNan("div_no_nan_2", g.DivNoNan("div_no_nan_1", g.Neg("Neg", x), y), y))
	return []tf.Output{g.reduceTo("rx", gx, x), g.reduceTo("ry", gy, y)}, nil
}

func negGrad(g *Graph, _ *Node, dys []tf.Output) ([]tf.Output, error) {
	return []tf.Output{g.Neg("Neg", dys[0])}, nil
}

// squareGrad: dy * (x * 2).
func squareGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	x := n.Inputs[0]
	two := g.Cast("two", g.Const("two_f32", float32(2)), x.DataType())
	return []tf.Output{g.Mul("mul_1", dys[0], g.Mul("mul", x, two))}, nil
}

// rsqrtGrad uses the RsqrtGrad kernel on the op's output.
func rsqrtGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	return []tf.Output{g.Op1("RsqrtGrad", "RsqrtGrad", []any{n.Out(0), dys[0]}, nil)}, nil
}

// squaredDifferenceGrad follows Python's _SquaredDifferenceGrad: after dy,
// x_grad = (2 * dy) * (x - y) and y_grad = -x_grad, reduced to the inputs'
// shapes when they were broadcast.
func squaredDifferenceGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	x, y, dy := n.Inputs[0], n.Inputs[1], dys[0]
	c := g.WithControlDependencies(dy.Op)
	gx := c.Mul("mul_1", c.Mul("scalar_mul", c.scalarConst("scalar", 2, dy.DataType()), dy), c.Sub("sub", x, y))
	return []tf.Output{g.reduceTo("rx", gx, x), g.reduceTo("ry", g.Neg("Neg", gx), y)}, nil
}

func maximumGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	return maximumMinimumGrad(g, n, dys, "GreaterEqual")
}

func minimumGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	return maximumMinimumGrad(g, n, dys, "LessEqual")
}

// maximumMinimumGrad follows Python's _MaximumMinimumGrad: dy goes to x
// where selector(x, y) holds (x >= y for Maximum, x <= y for Minimum), to y
// elsewhere, each reduced to its input's shape.
func maximumMinimumGrad(g *Graph, n *Node, dys []tf.Output, selector string) ([]tf.Output, error) {
	x, y, dy := n.Inputs[0], n.Inputs[1], dys[0]
	zeros := g.ZerosLike("zeros_like", dy)
	xmask := g.binary(selector, selector, x, y)
	gx := g.SelectV2("SelectV2", xmask, dy, zeros)
	gy := g.SelectV2("SelectV2_1", xmask, zeros, dy)
	return []tf.Output{g.reduceTo("rx", gx, x), g.reduceTo("ry", gy, y)}, nil
}

// selectV2Grad follows Python's _SelectGradV2: dy goes to x where the
// condition holds and to y elsewhere, each reduced from the output's shape
// to its input's; the condition gets none.
func selectV2Grad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	c, x, y, dy := n.Inputs[0], n.Inputs[1], n.Inputs[2], dys[0]
	zeros := g.scalarConst("zeros", 0, dy.DataType())
	gx := g.SelectV2("SelectV2", c, dy, zeros)
	gy := g.SelectV2("SelectV2_1", c, zeros, dy)
	return []tf.Output{{}, g.reduceTo("rx", gx, x), g.reduceTo("ry", gy, y)}, nil
}

// selectGrad follows Python's _SelectGrad (v1 Select, whose inputs share
// one shape): dy where the condition holds to x, elsewhere to y.
func selectGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	zeros := g.ZerosLike("zeros_like", n.Inputs[1])
	return []tf.Output{{}, g.Select("Select", n.Inputs[0], dys[0], zeros), g.Select("Select_1", n.Inputs[0], zeros, dys[0])}, nil
}

// expGrad: dy * exp(x), the op's own output.
func expGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	return []tf.Output{g.Mul("mul", dys[0], n.Out(0))}, nil
}

// log1pGrad: dy * reciprocal(1 + x).
func log1pGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	x := n.Inputs[0]
	one := g.scalarConst("add/x", 1, x.DataType())
	return []tf.Output{g.Mul("mul", dys[0], g.Op1("Reciprocal", "Reciprocal", []any{g.AddV2("add", one, x)}, nil))}, nil
}

// sqrtGrad uses the SqrtGrad kernel on the op's output.
func sqrtGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	return []tf.Output{g.Op1("SqrtGrad", "SqrtGrad", []any{n.Out(0), dys[0]}, nil)}, nil
}

func addNGrad(_ *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	out := make([]tf.Output, len(n.Inputs))
	for i := range out {
		out[i] = dys[0]
	}
	return out, nil
}

// sumGrad broadcasts dy back to the input's shape (reshape to the kept-dims
// shape, then tile); no arithmetic, so the values are exact copies.
func sumGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	return []tf.Output{g.broadcastReduced(n, dys[0]), {}}, nil
}

// meanGrad is sumGrad divided by the number of reduced elements: a
// constant when the shapes are static, else (as Python's graph-mode
// _MeanGrad) the product of the reduced input dims, gathered from its
// dynamic shape.
func meanGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	sum := g.broadcastReduced(n, dys[0])
	dt := n.Out(0).DataType()
	in, err1 := ShapeOf(n.Inputs[0])
	out, err2 := ShapeOf(n.Out(0))
	if err1 == nil && err2 == nil && fullyDefined(in) && fullyDefined(out) {
		inSize, outSize := int64(1), int64(1)
		for _, d := range in {
			inSize *= d
		}
		for _, d := range out {
			outSize *= d
		}
		factor := inSize / max(outSize, 1)
		return []tf.Output{g.RealDiv("truediv", sum, g.Cast("Cast", g.Const("factor", factor), dt)), {}}, nil
	}
	_, reduced, ok := g.reduction(n)
	if !ok {
		return nil, g.Err()
	}
	var axes []int32
	for i, r := range reduced {
		if r {
			axes = append(axes, int32(i))
		}
	}
	dims := g.Op1("GatherV2", "GatherV2", []any{g.shape32("Shape_1", n.Inputs[0]), g.Const("axes", axes), g.Const("axis", int32(0))}, nil)
	factor := g.Op1("Prod", "Prod", []any{dims, g.Const("prod_axes", []int32{0})}, map[string]any{"keep_dims": false})
	return []tf.Output{g.RealDiv("truediv", sum, g.Cast("Cast", factor, dt)), {}}, nil
}

// broadcastReduced undoes a reduction's shape change for op n (Sum, Mean):
// reshape dy to the kept-dims shape, then tile (or, for shapes known only at
// run time, broadcast) it to the input's shape. Values are copied, never
// combined, so the result is exact.
func (g *Graph) broadcastReduced(n *Node, dy tf.Output) tf.Output {
	in, reduced, ok := g.reduction(n)
	if !ok {
		return tf.Output{}
	}
	if fullyDefined(in) {
		kept := append([]int64(nil), in...)
		mult := make([]int64, len(in))
		for i := range in {
			mult[i] = 1
			if reduced[i] {
				kept[i], mult[i] = 1, in[i]
			}
		}
		return g.Tile("Tile", g.Reshape("Reshape", dy, kept), mult)
	}
	shape := g.Shape("Shape", n.Inputs[0])
	r := g.Op1("Reshape", "Reshape", []any{dy, g.keptDims(n, in, reduced, shape)}, nil)
	return g.Op1("BroadcastTo", "BroadcastTo", []any{r, shape}, nil)
}

// reduction returns the input shape of reduction op n and which of its axes
// are reduced; the axes must be a constant and the rank known.
func (g *Graph) reduction(n *Node) (in []int64, reduced []bool, ok bool) {
	in, err := ShapeOf(n.Inputs[0])
	axes, ok := g.constInt64s(n.Inputs[1])
	if err != nil || !ok {
		g.SetErr(fmt.Errorf("%s: reduction gradient needs a known input rank and constant axes", n.Name()))
		return nil, nil, false
	}
	reduced = make([]bool, len(in))
	for _, a := range axes {
		if a < 0 {
			a += int64(len(in))
		}
		if a < 0 || int(a) >= len(in) {
			g.SetErr(fmt.Errorf("%s: reduction axis %d out of range for shape %v", n.Name(), a, in))
			return nil, nil, false
		}
		reduced[a] = true
	}
	return in, reduced, true
}

// keptDims returns the shape of reduction op n's output with the reduced
// axes kept as 1 (Python's math_ops.reduced_shape): a constant when the input
// shape is static, else computed from shape, the input's dynamic int64 shape,
// as shape * keep + reducedOnes.
func (g *Graph) keptDims(n *Node, in []int64, reduced []bool, shape tf.Output) tf.Output {
	if fullyDefined(in) {
		kept := append([]int64(nil), in...)
		for i := range in {
			if reduced[i] {
				kept[i] = 1
			}
		}
		return g.Const("kept_dims", kept)
	}
	keep, ones := make([]int64, len(in)), make([]int64, len(in))
	for i := range in {
		if reduced[i] {
			ones[i] = 1
		} else {
			keep[i] = 1
		}
	}
	return g.AddV2("kept_dims", g.Mul("masked", shape, g.Const("keep", keep)), g.Const("reduced_ones", ones))
}

// minOrMaxGrad follows Python's _MinOrMaxGrad (Min and Max): the gradient
// goes to the elements equal to the result, split evenly between ties:
// indicators / num_selected * dy.
func minOrMaxGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	in, reduced, ok := g.reduction(n)
	if !ok {
		return nil, g.Err()
	}
	y, dy := n.Out(0), dys[0]
	var kept tf.Output
	if keep, _ := n.Attrs["keep_dims"].(bool); keep {
		if dims, err := ShapeOf(y); err == nil && fullyDefined(dims) {
			kept = g.Const("kept_dims", dims)
		} else {
			kept = g.Shape("Shape", y)
		}
	} else {
		var shape tf.Output
		if !fullyDefined(in) {
			shape = g.Shape("Shape", n.Inputs[0])
		}
		kept = g.keptDims(n, in, reduced, shape)
		y = g.Op1("Reshape", "Reshape", []any{y, kept}, nil)
		dy = g.Op1("Reshape", "Reshape_1", []any{dy, kept}, nil)
	}
	indicators := g.Cast("Cast", g.Equal("Equal", y, n.Inputs[0]), dy.DataType())
	sum := g.Op1("Sum", "Sum", []any{indicators, n.Inputs[1]}, map[string]any{"keep_dims": false})
	numSelected := g.Op1("Reshape", "Reshape_2", []any{sum, kept}, nil)
	return []tf.Output{g.Mul("mul", g.RealDiv("truediv", indicators, numSelected), dy), {}}, nil
}

// matMulGrad follows Python's _MatMulGrad, including the grad_a/grad_b hints.
func matMulGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	a, b, dy := n.Inputs[0], n.Inputs[1], dys[0]
	ta, _ := n.Attrs["transpose_a"].(bool)
	tb, _ := n.Attrs["transpose_b"].(bool)
	mm := func(name string, x, y tf.Output, tx, ty bool, hint string) tf.Output {
		return g.matMul(name, x, y, map[string]any{"transpose_a": tx, "transpose_b": ty, hint: true})
	}
	switch {
	case !ta && !tb:
		return []tf.Output{mm("MatMul", dy, b, false, true, "grad_a"), mm("MatMul_1", a, dy, true, false, "grad_b")}, nil
	case !ta && tb:
		return []tf.Output{mm("MatMul", dy, b, false, false, "grad_a"), mm("MatMul_1", dy, a, true, false, "grad_b")}, nil
	case ta && !tb:
		return []tf.Output{mm("MatMul", b, dy, false, true, "grad_a"), mm("MatMul_1", a, dy, false, false, "grad_b")}, nil
	default:
		return []tf.Output{mm("MatMul", b, dy, true, true, "grad_a"), mm("MatMul_1", dy, a, true, true, "grad_b")}, nil
	}
}

// castGrad casts the gradient back for float-to-float casts only.
func castGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	src := n.Inputs[0].DataType()
	dst := n.Out(0).DataType()
	if isFloat(src) && isFloat(dst) {
		return []tf.Output{g.Cast("Cast", dys[0], src)}, nil
	}
	return []tf.Output{{}}, nil
}

func isFloat(dt tf.DataType) bool {
	return dt == tf.Float || dt == tf.Double || dt == tf.Half || dt == tf.Bfloat16
}
