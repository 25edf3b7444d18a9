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

// meanGrad is sumGrad divided by the number of reduced elements.
func meanGrad(g *Graph, n *Node, dys []tf.Output) ([]tf.Output, error) {
	in, err := ShapeOf(n.Inputs[0])
	if err != nil || !fullyDefined(in) {
		return nil, fmt.Errorf("mean gradient needs a static input shape: %v", err)
	}
	out, err := ShapeOf(n.Out(0))
	if err != nil || !fullyDefined(out) {
		return nil, fmt.Errorf("mean gradient needs a static output shape: %v", err)
	}
	inSize, outSize := int64(1), int64(1)
	for _, d := range in {
		inSize *= d
	}
	for _, d := range out {
		outSize *= d
	}
	factor := inSize / max(outSize, 1)
	sum := g.broadcastReduced(n, dys[0])
	return []tf.Output{g.RealDiv("truediv", sum, g.Cast("Cast", g.Const("factor", factor), n.Out(0).DataType())), {}}, nil
}

// broadcastReduced undoes a reduction's shape change for op n (Sum, Mean):
// reshape dy to the kept-dims shape, then tile (or, for shapes known only at
// run time, broadcast) it to the input's shape. Values are copied, never
// combined, so the result is exact.
func (g *Graph) broadcastReduced(n *Node, dy tf.Output) tf.Output {
	x := n.Inputs[0]
	in, err := ShapeOf(x)
	axes, ok := g.constInt64s(n.Inputs[1])
	if err != nil || !ok {
		g.SetErr(fmt.Errorf("%s: reduction gradient needs a known input rank and constant axes", n.Name()))
		return tf.Output{}
	}
	reduced := make([]bool, len(in))
	for _, a := range axes {
		if a < 0 {
			a += int64(len(in))
		}
		if a < 0 || int(a) >= len(in) {
			g.SetErr(fmt.Errorf("%s: reduction axis %d out of range for shape %v", n.Name(), a, in))
			return tf.Output{}
		}
		reduced[a] = true
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
	// kept = shape(x) * keep + reducedOnes, as int64 vectors.
	keep, ones := make([]int64, len(in)), make([]int64, len(in))
	for i := range in {
		if reduced[i] {
			ones[i] = 1
		} else {
			keep[i] = 1
		}
	}
	shape := g.Shape("Shape", x)
	kept := g.AddV2("kept_dims", g.Mul("masked", shape, g.Const("keep", keep)), g.Const("reduced_ones", ones))
	r := g.Op1("Reshape", "Reshape", []any{dy, kept}, nil)
	return g.Op1("BroadcastTo", "BroadcastTo", []any{r, shape}, nil)
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
