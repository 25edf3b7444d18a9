package tfgraph_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// tensorSpec is one input or upstream gradient, as sent to the oracle.
type tensorSpec struct {
	DType  string    `json:"dtype"`
	Shape  []int64   `json:"shape"`
	Values []float64 `json:"values"`
}

// input is one op argument: a tensor, or a list of tensors (AddN).
type input struct {
	Arg  string       `json:"arg"`
	Diff bool         `json:"diff"`
	List []tensorSpec `json:"list,omitempty"`
	tensorSpec
}

// gradCase is one op with inputs, attributes and upstream gradients.
type gradCase struct {
	Name     string         `json:"name"`
	Op       string         `json:"op"`
	Inputs   []input        `json:"inputs"`
	Attrs    map[string]any `json:"attrs"`
	Upstream []*tensorSpec  `json:"upstream"`
	goAttrs  map[string]any
	// goBuild, if set, builds a composite case (several ops) in Go from
	// the inputs instead of the single op Op; the oracle builds its own.
	goBuild func(g *tfgraph.Graph, args []tf.Output) []tf.Output
	// exact requires bit-identity with the tape, not just the tolerance.
	exact bool
}

func f32(shape []int64, vals []float64) tensorSpec {
	return tensorSpec{DType: "float32", Shape: shape, Values: vals}
}

func ints(dtype string, vals ...int64) tensorSpec {
	fv := make([]float64, len(vals))
	for i, v := range vals {
		fv[i] = float64(v)
	}
	return tensorSpec{DType: dtype, Shape: []int64{int64(len(vals))}, Values: fv}
}

func scalarI(dtype string, v int64) tensorSpec {
	return tensorSpec{DType: dtype, Shape: []int64{}, Values: []float64{float64(v)}}
}

// rnd draws n float32 values in [lo, hi).
func rnd(r *rand.Rand, n int, lo, hi float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(float32(lo + (hi-lo)*r.Float64()))
	}
	return out
}

func size(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

func x(arg string, r *rand.Rand, shape []int64, lo, hi float64) input {
	return input{Arg: arg, Diff: true, tensorSpec: f32(shape, rnd(r, size(shape), lo, hi))}
}

func up(r *rand.Rand, shape []int64) *tensorSpec {
	s := f32(shape, rnd(r, size(shape), -1, 1))
	return &s
}

func fixed(arg string, t tensorSpec) input { return input{Arg: arg, tensorSpec: t} }

// fakeQuantInputs returns values below, at, between and above the nudged
// range of [min, max]: the edges where the gradient switches on and off.
func fakeQuantInputs(r *rand.Rand, min, max float32, bits int, narrow bool, n int) []float64 {
	nmin, nmax, scale := qat.Nudge(min, max, bits, narrow)
	vals := []float64{
		float64(nmin), float64(nmax),
		float64(math.Nextafter32(nmin, -10)), float64(math.Nextafter32(nmax, 10)),
		float64(math.Nextafter32(nmin, 10)), float64(math.Nextafter32(nmax, -10)),
		float64(nmin - scale/4), float64(nmax + scale/4), // outside, never subnormal
		float64(nmin - 3*scale), float64(nmax + 3*scale), 0,
		float64(nmin + 2.5*scale), // a half-way point: rounds up
	}
	for len(vals) < n {
		vals = append(vals, float64(float32(float64(nmin)-0.5*float64(nmax-nmin)+2*float64(nmax-nmin)*r.Float64())))
	}
	return vals[:n]
}

func cases() []gradCase {
	r := rand.New(rand.NewPCG(7, 11))
	var cs []gradCase
	add := func(c gradCase) {
		if c.goAttrs == nil {
			c.goAttrs = c.Attrs
		}
		cs = append(cs, c)
	}
	s43, s3, s34 := []int64{4, 3}, []int64{3}, []int64{3, 4}
	for _, tt := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		as, bs := []int64{4, 3}, []int64{3, 5}
		if tt[0] {
			as = []int64{3, 4}
		}
		if tt[1] {
			bs = []int64{5, 3}
		}
		add(gradCase{Name: fmt.Sprintf("MatMul_%v_%v", tt[0], tt[1]), Op: "MatMul",
			Inputs:   []input{x("a", r, as, -1, 1), x("b", r, bs, -1, 1)},
			Attrs:    map[string]any{"transpose_a": tt[0], "transpose_b": tt[1]},
			Upstream: []*tensorSpec{up(r, []int64{4, 5})}})
	}
	for _, op := range []string{"AddV2", "Add", "Sub", "Mul"} {
		add(gradCase{Name: op + "_broadcast", Op: op, Inputs: []input{x("x", r, s43, -2, 2), x("y", r, s3, -2, 2)},
			Upstream: []*tensorSpec{up(r, s43)}})
		add(gradCase{Name: op + "_same", Op: op, Inputs: []input{x("x", r, s43, -2, 2), x("y", r, s43, -2, 2)},
			Upstream: []*tensorSpec{up(r, s43)}})
	}
	add(gradCase{Name: "RealDiv", Op: "RealDiv", Inputs: []input{x("x", r, s43, -2, 2), x("y", r, s3, 0.5, 2)},
		Upstream: []*tensorSpec{up(r, s43)}})
	dnn := x("y", r, s3, 0.5, 2)
	dnn.Values[1] = 0
	add(gradCase{Name: "DivNoNan", Op: "DivNoNan", Inputs: []input{x("x", r, s43, -2, 2), dnn},
		Upstream: []*tensorSpec{up(r, s43)}})
	add(gradCase{Name: "DivNoNan_scalar", Op: "DivNoNan", Inputs: []input{x("x", r, nil, 1, 2), x("y", r, nil, 50, 100)},
		Upstream: []*tensorSpec{up(r, nil)}})
	add(gradCase{Name: "Neg", Op: "Neg", Inputs: []input{x("x", r, s43, -2, 2)}, Upstream: []*tensorSpec{up(r, s43)}})
	add(gradCase{Name: "Square", Op: "Square", Inputs: []input{x("x", r, s43, -2, 2)}, Upstream: []*tensorSpec{up(r, s43)}})
	add(gradCase{Name: "Sqrt", Op: "Sqrt", Inputs: []input{x("x", r, s43, 0.1, 4)}, Upstream: []*tensorSpec{up(r, s43)}})
	add(gradCase{Name: "AddN", Op: "AddN", Inputs: []input{{Arg: "inputs", Diff: true, List: []tensorSpec{
		f32(s43, rnd(r, 12, -1, 1)), f32(s43, rnd(r, 12, -1, 1)), f32(s43, rnd(r, 12, -1, 1))}}},
		Upstream: []*tensorSpec{up(r, s43)}})
	for _, axis := range []int64{1, -1, 0} {
		shapes := [][]int64{{4, 2}, {4, 3}, {4, 1}}
		upShape := []int64{4, 6}
		if axis == 0 {
			shapes, upShape = [][]int64{{1, 3}, {4, 3}, {2, 3}}, []int64{7, 3}
		}
		var list []tensorSpec
		for _, sh := range shapes {
			list = append(list, f32(sh, rnd(r, size(sh), -1, 1)))
		}
		add(gradCase{Name: fmt.Sprintf("ConcatV2_axis%d", axis), Op: "ConcatV2",
			Inputs:   []input{{Arg: "values", Diff: true, List: list}, fixed("axis", scalarI("int32", axis))},
			Upstream: []*tensorSpec{up(r, upShape)}})
	}
	add(gradCase{Name: "Pad", Op: "Pad", Inputs: []input{x("input", r, []int64{2, 3, 2}, -1, 1),
		fixed("paddings", tensorSpec{DType: "int32", Shape: []int64{3, 2}, Values: []float64{0, 0, 1, 2, 2, 0}})},
		Upstream: []*tensorSpec{up(r, []int64{2, 6, 4})}})
	add(gradCase{Name: "Sum_axis0", Op: "Sum", Inputs: []input{x("input", r, s43, -1, 1), fixed("axis", ints("int32", 0))},
		Attrs: map[string]any{"keep_dims": false}, Upstream: []*tensorSpec{up(r, s3)}})
	add(gradCase{Name: "Sum_axis1_keep", Op: "Sum", Inputs: []input{x("input", r, s43, -1, 1), fixed("axis", ints("int32", 1))},
		Attrs: map[string]any{"keep_dims": true}, Upstream: []*tensorSpec{up(r, []int64{4, 1})}})
	add(gradCase{Name: "Mean", Op: "Mean", Inputs: []input{x("input", r, s43, -1, 1), fixed("axis", ints("int32", 0, 1))},
		Attrs: map[string]any{"keep_dims": false}, Upstream: []*tensorSpec{up(r, nil)}})
	add(gradCase{Name: "Cast", Op: "Cast", Inputs: []input{x("x", r, s43, -1, 1)},
		Attrs: map[string]any{"DstT": "float64"}, goAttrs: map[string]any{"SrcT": tf.Float, "DstT": tf.Double},
		Upstream: []*tensorSpec{{DType: "float64", Shape: s43, Values: rnd(r, 12, -1, 1)}}})
	add(gradCase{Name: "Identity", Op: "Identity", Inputs: []input{x("input", r, s43, -1, 1)}, Upstream: []*tensorSpec{up(r, s43)}})
	add(gradCase{Name: "Reshape", Op: "Reshape", Inputs: []input{x("tensor", r, s43, -1, 1), fixed("shape", ints("int32", 2, 6))},
		Upstream: []*tensorSpec{up(r, []int64{2, 6})}})
	add(gradCase{Name: "ExpandDims", Op: "ExpandDims", Inputs: []input{x("input", r, s43, -1, 1), fixed("axis", scalarI("int32", -1))},
		Upstream: []*tensorSpec{up(r, []int64{4, 3, 1})}})
	add(gradCase{Name: "Squeeze", Op: "Squeeze", Inputs: []input{x("input", r, []int64{4, 1, 3}, -1, 1)},
		Attrs: map[string]any{"axis": []int64{1}}, goAttrs: map[string]any{"squeeze_dims": []int64{1}}, Upstream: []*tensorSpec{up(r, s43)}})
	labels := make([]float64, 12)
	for i := 0; i < 4; i++ {
		labels[i*3+r.IntN(3)] = 1
	}
	add(gradCase{Name: "SoftmaxCrossEntropyWithLogits", Op: "SoftmaxCrossEntropyWithLogits",
		Inputs:   []input{x("features", r, s43, -3, 3), {Arg: "labels", Diff: true, tensorSpec: f32(s43, labels)}},
		Upstream: []*tensorSpec{up(r, []int64{4}), nil}})
	add(gradCase{Name: "SparseSoftmaxCrossEntropyWithLogits", Op: "SparseSoftmaxCrossEntropyWithLogits",
		Inputs:   []input{x("features", r, s43, -3, 3), fixed("labels", ints("int32", 2, 0, 1, 2))},
		Upstream: []*tensorSpec{up(r, []int64{4}), nil}, exact: true})
	add(gradCase{Name: "Log1p", Op: "Log1p", Inputs: []input{x("x", r, s34, -0.5, 3)}, Upstream: []*tensorSpec{up(r, s34)}, exact: true})
	sel := tensorSpec{DType: "bool", Shape: s43, Values: []float64{1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0}}
	add(gradCase{Name: "Select", Op: "Select", Inputs: []input{fixed("condition", sel), x("x", r, s43, -1, 1), x("y", r, s43, -1, 1)},
		Upstream: []*tensorSpec{up(r, s43)}, exact: true})
	add(gradCase{Name: "Relu", Op: "Relu", Inputs: []input{x("features", r, s43, -2, 2)}, Upstream: []*tensorSpec{up(r, s43)}})
	add(gradCase{Name: "Relu6", Op: "Relu6", Inputs: []input{x("features", r, s43, -3, 9)}, Upstream: []*tensorSpec{up(r, s43)}})
	add(gradCase{Name: "BiasAdd", Op: "BiasAdd", Inputs: []input{x("value", r, s43, -2, 2), x("bias", r, s3, -1, 1)},
		Upstream: []*tensorSpec{up(r, s43)}})
	for _, op := range []string{"Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Exp"} {
		arg := "x"
		if op == "Softmax" || op == "LogSoftmax" {
			arg = "logits"
		}
		add(gradCase{Name: op, Op: op, Inputs: []input{x(arg, r, s34, -2, 2)}, Upstream: []*tensorSpec{up(r, s34)}})
	}
	add(gradCase{Name: "Log", Op: "Log", Inputs: []input{x("x", r, s34, 0.1, 3)}, Upstream: []*tensorSpec{up(r, s34)}})
	img, filt := []int64{2, 5, 5, 3}, []int64{3, 3, 3, 4}
	conv := map[string]any{"strides": []int64{1, 1, 1, 1}, "padding": "SAME"}
	add(gradCase{Name: "Conv2D", Op: "Conv2D", Inputs: []input{x("input", r, img, -1, 1), x("filter", r, filt, -1, 1)},
		Attrs: conv, Upstream: []*tensorSpec{up(r, []int64{2, 5, 5, 4})}})
	add(gradCase{Name: "DepthwiseConv2dNative", Op: "DepthwiseConv2dNative",
		Inputs: []input{x("input", r, img, -1, 1), x("filter", r, []int64{3, 3, 3, 2}, -1, 1)},
		Attrs:  map[string]any{"strides": []int64{1, 1, 1, 1}, "padding": "VALID"}, Upstream: []*tensorSpec{up(r, []int64{2, 3, 3, 6})}})
	pool := map[string]any{"ksize": []int64{1, 2, 2, 1}, "strides": []int64{1, 2, 2, 1}, "padding": "VALID"}
	add(gradCase{Name: "MaxPool", Op: "MaxPool", Inputs: []input{x("input", r, []int64{2, 4, 4, 3}, -1, 1)},
		Attrs: pool, Upstream: []*tensorSpec{up(r, []int64{2, 2, 2, 3})}})
	add(gradCase{Name: "AvgPool", Op: "AvgPool", Inputs: []input{x("value", r, []int64{2, 4, 4, 3}, -1, 1)},
		Attrs: pool, Upstream: []*tensorSpec{up(r, []int64{2, 2, 2, 3})}})

	// FakeQuant: ranges that need nudging, several widths, narrow or not,
	// inputs on and around the nudged edges.
	for _, q := range []struct {
		min, max float32
		bits     int
		narrow   bool
	}{{-0.1, 0.1, 8, false}, {-1, 1, 8, true}, {-0.3, 2.7, 4, false}, {0.2, 1.5, 2, false}, {-6, 6, 16, true}} {
		name := fmt.Sprintf("FakeQuantWithMinMaxVars_%g_%g_%d_%v", q.min, q.max, q.bits, q.narrow)
		attrs := map[string]any{"num_bits": int64(q.bits), "narrow_range": q.narrow}
		add(gradCase{Name: name, Op: "FakeQuantWithMinMaxVars",
			Inputs: []input{{Arg: "inputs", Diff: true, tensorSpec: f32([]int64{4, 5}, fakeQuantInputs(r, q.min, q.max, q.bits, q.narrow, 20))},
				{Arg: "min", Diff: true, tensorSpec: f32(nil, []float64{float64(q.min)})},
				{Arg: "max", Diff: true, tensorSpec: f32(nil, []float64{float64(q.max)})}},
			Attrs: attrs, Upstream: []*tensorSpec{up(r, []int64{4, 5})}})
		add(gradCase{Name: "FakeQuantWithMinMaxArgs" + name[len("FakeQuantWithMinMaxVars"):], Op: "FakeQuantWithMinMaxArgs",
			Inputs:   []input{{Arg: "inputs", Diff: true, tensorSpec: f32([]int64{4, 5}, fakeQuantInputs(r, q.min, q.max, q.bits, q.narrow, 20))}},
			Attrs:    map[string]any{"min": q.min, "max": q.max, "num_bits": int64(q.bits), "narrow_range": q.narrow},
			goAttrs:  map[string]any{"min": q.min, "max": q.max, "num_bits": int64(q.bits), "narrow_range": q.narrow},
			Upstream: []*tensorSpec{up(r, []int64{4, 5})}})
	}
	// Per channel: three channels with their own ranges; each column holds
	// edge values of its own channel.
	mins, maxs := []float32{-0.1, -1, 0.25}, []float32{0.1, 0.5, 3}
	vals := make([]float64, 30)
	for c := 0; c < 3; c++ {
		col := fakeQuantInputs(r, mins[c], maxs[c], 8, true, 10)
		for i := 0; i < 10; i++ {
			vals[i*3+c] = col[i]
		}
	}
	add(gradCase{Name: "FakeQuantWithMinMaxVarsPerChannel", Op: "FakeQuantWithMinMaxVarsPerChannel",
		Inputs: []input{{Arg: "inputs", Diff: true, tensorSpec: f32([]int64{10, 3}, vals)},
			{Arg: "min", Diff: true, tensorSpec: f32(s3, []float64{float64(mins[0]), float64(mins[1]), float64(mins[2])})},
			{Arg: "max", Diff: true, tensorSpec: f32(s3, []float64{float64(maxs[0]), float64(maxs[1]), float64(maxs[2])})}},
		Attrs: map[string]any{"num_bits": int64(8), "narrow_range": true}, Upstream: []*tensorSpec{up(r, []int64{10, 3})}})
	layerCases(r, add)
	batchNormCases(r, add)
	orderCases(r, add)
	return cs
}

// layerCases covers the ops of the convolutional layers, BatchNorm and the
// range estimators: windowed ops in SAME and VALID padding, stride 1 and 2,
// elementwise min/max with ties, reductions with ties, and the ops through
// which no gradient flows.
func layerCases(r *rand.Rand, add func(gradCase)) {
	s43, s3 := []int64{4, 3}, []int64{3}
	add(gradCase{Name: "Rsqrt", Op: "Rsqrt", Inputs: []input{x("x", r, s43, 0.1, 4)}, Upstream: []*tensorSpec{up(r, s43)}})
	for _, sh := range [][2][]int64{{s43, s43}, {s43, s3}, {s3, s43}, {[]int64{4, 1}, []int64{1, 3}}, {s43, nil}} {
		name := fmt.Sprintf("SquaredDifference_%v_%v", sh[0], sh[1])
		add(gradCase{Name: name, Op: "SquaredDifference", Inputs: []input{x("x", r, sh[0], -2, 2), x("y", r, sh[1], -2, 2)},
			Upstream: []*tensorSpec{up(r, s43)}})
	}
	// Maximum and Minimum: ties (x == y) go to x; a scalar y is a range
	// clipped at 0 as the range estimators do.
	for _, op := range []string{"Maximum", "Minimum"} {
		xs, ys := x("x", r, s43, -2, 2), x("y", r, s43, -2, 2)
		for i := 0; i < 12; i += 3 {
			ys.Values[i] = xs.Values[i]
		}
		add(gradCase{Name: op + "_same_ties", Op: op, Inputs: []input{xs, ys}, Upstream: []*tensorSpec{up(r, s43)}})
		add(gradCase{Name: op + "_broadcast", Op: op, Inputs: []input{x("x", r, s43, -2, 2), x("y", r, s3, -2, 2)},
			Upstream: []*tensorSpec{up(r, s43)}})
		zero := input{Arg: "y", Diff: true, tensorSpec: f32(nil, []float64{0})}
		xz := x("x", r, s3, -1, 1)
		xz.Values[1] = 0
		add(gradCase{Name: op + "_scalar_zero", Op: op, Inputs: []input{xz, zero}, Upstream: []*tensorSpec{up(r, s3)}})
	}
	// Min and Max: values on a coarse grid, so that several elements tie for
	// the extreme and share its gradient.
	grid := func(shape []int64) input {
		in := x("input", r, shape, -1, 1)
		for i, v := range in.Values {
			in.Values[i] = math.Round(v*2) / 2
		}
		return in
	}
	for _, op := range []string{"Min", "Max"} {
		add(gradCase{Name: op + "_axis0", Op: op, Inputs: []input{grid(s43), fixed("axis", ints("int32", 0))},
			Attrs: map[string]any{"keep_dims": false}, Upstream: []*tensorSpec{up(r, s3)}})
		add(gradCase{Name: op + "_all", Op: op, Inputs: []input{grid(s43), fixed("axis", ints("int32", 0, 1))},
			Attrs: map[string]any{"keep_dims": false}, Upstream: []*tensorSpec{up(r, nil)}})
		add(gradCase{Name: op + "_axis1_keep", Op: op, Inputs: []input{grid(s43), fixed("axis", ints("int32", -1))},
			Attrs: map[string]any{"keep_dims": true}, Upstream: []*tensorSpec{up(r, []int64{4, 1})}})
		add(gradCase{Name: op + "_nhwc_per_channel", Op: op, Inputs: []input{grid([]int64{2, 3, 3, 4}), fixed("axis", ints("int32", 0, 1, 2))},
			Attrs: map[string]any{"keep_dims": false}, Upstream: []*tensorSpec{up(r, []int64{4})}})
	}
	cond := tensorSpec{DType: "bool", Shape: []int64{4, 1}, Values: []float64{1, 0, 0, 1}}
	add(gradCase{Name: "SelectV2_broadcast", Op: "SelectV2",
		Inputs:   []input{fixed("condition", cond), x("t", r, s43, -1, 1), x("e", r, s3, -1, 1)},
		Upstream: []*tensorSpec{up(r, s43)}})
	mask := tensorSpec{DType: "bool", Shape: s43, Values: rnd(r, 12, 0, 2)}
	for i, v := range mask.Values {
		mask.Values[i] = math.Floor(v)
	}
	add(gradCase{Name: "SelectV2_same", Op: "SelectV2",
		Inputs:   []input{fixed("condition", mask), x("t", r, s43, -1, 1), x("e", r, s43, -1, 1)},
		Upstream: []*tensorSpec{up(r, s43)}})

	// Not differentiable: TensorFlow gives no gradient, nor must Go.
	add(gradCase{Name: "StopGradient", Op: "StopGradient", Inputs: []input{x("input", r, s43, -1, 1)}, Upstream: []*tensorSpec{up(r, s43)}})
	for _, op := range []string{"ZerosLike", "OnesLike"} {
		add(gradCase{Name: op, Op: op, Inputs: []input{x("x", r, s43, -1, 1)}, Upstream: []*tensorSpec{up(r, s43)}})
	}
	add(gradCase{Name: "Shape", Op: "Shape", Inputs: []input{x("input", r, s43, -1, 1)},
		Upstream: []*tensorSpec{{DType: "int32", Shape: []int64{2}, Values: []float64{1, 1}}}})
	for _, op := range []string{"Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual"} {
		add(gradCase{Name: op, Op: op, Inputs: []input{x("x", r, s43, -1, 1), x("y", r, s3, -1, 1)},
			Upstream: []*tensorSpec{{DType: "bool", Shape: s43, Values: make([]float64, 12)}}})
	}

	// Convolutions and pools, NHWC: odd sizes so SAME with stride 2 pads
	// unevenly.
	img := []int64{2, 7, 7, 3}
	for _, pad := range []string{"VALID", "SAME"} {
		for _, st := range []int64{1, 2} {
			strides := []int64{1, st, st, 1}
			add(gradCase{Name: fmt.Sprintf("Conv2D_%s_s%d", pad, st), Op: "Conv2D",
				Inputs:   []input{x("input", r, img, -1, 1), x("filter", r, []int64{3, 3, 3, 4}, -1, 1)},
				Attrs:    map[string]any{"strides": strides, "padding": pad},
				Upstream: []*tensorSpec{up(r, []int64{2, outDim(7, 3, st, pad), outDim(7, 3, st, pad), 4})}})
			for _, m := range []int64{1, 2} {
				add(gradCase{Name: fmt.Sprintf("DepthwiseConv2dNative_%s_s%d_m%d", pad, st, m), Op: "DepthwiseConv2dNative",
					Inputs:   []input{x("input", r, img, -1, 1), x("filter", r, []int64{3, 3, 3, m}, -1, 1)},
					Attrs:    map[string]any{"strides": strides, "padding": pad},
					Upstream: []*tensorSpec{up(r, []int64{2, outDim(7, 3, st, pad), outDim(7, 3, st, pad), 3 * m})}})
			}
			for _, op := range []string{"MaxPool", "AvgPool"} {
				arg := "input"
				if op == "AvgPool" {
					arg = "value"
				}
				add(gradCase{Name: fmt.Sprintf("%s_3x3_%s_s%d", op, pad, st), Op: op, Inputs: []input{x(arg, r, img, -1, 1)},
					Attrs:    map[string]any{"ksize": []int64{1, 3, 3, 1}, "strides": strides, "padding": pad},
					Upstream: []*tensorSpec{up(r, []int64{2, outDim(7, 3, st, pad), outDim(7, 3, st, pad), 3})}})
			}
		}
	}
	add(gradCase{Name: "Conv2D_dilated", Op: "Conv2D",
		Inputs:   []input{x("input", r, img, -1, 1), x("filter", r, []int64{3, 3, 3, 4}, -1, 1)},
		Attrs:    map[string]any{"strides": []int64{1, 1, 1, 1}, "padding": "VALID", "dilations": []int64{1, 2, 2, 1}},
		Upstream: []*tensorSpec{up(r, []int64{2, 3, 3, 4})}})
	// MaxPool after a ReLU: many windows tie (zeros, and values on a grid).
	for _, st := range []int64{1, 2} {
		in := x("input", r, img, -1, 1)
		for i, v := range in.Values {
			in.Values[i] = math.Max(0, math.Round(v*2)/2)
		}
		add(gradCase{Name: fmt.Sprintf("MaxPool_ties_s%d", st), Op: "MaxPool", Inputs: []input{in},
			Attrs:    map[string]any{"ksize": []int64{1, 3, 3, 1}, "strides": []int64{1, st, st, 1}, "padding": "SAME"},
			Upstream: []*tensorSpec{up(r, []int64{2, outDim(7, 3, st, "SAME"), outDim(7, 3, st, "SAME"), 3})}})
	}
	nhwc := []int64{2, 3, 3, 4}
	add(gradCase{Name: "BiasAdd_NHWC", Op: "BiasAdd", Inputs: []input{x("value", r, nhwc, -2, 2), x("bias", r, []int64{4}, -1, 1)},
		Attrs: map[string]any{"data_format": "NHWC"}, Upstream: []*tensorSpec{up(r, nhwc)}})
	add(gradCase{Name: "Mean_nhwc_moments", Op: "Mean", Inputs: []input{x("input", r, nhwc, -1, 1), fixed("axis", ints("int32", 0, 1, 2))},
		Attrs: map[string]any{"keep_dims": false}, Upstream: []*tensorSpec{up(r, []int64{4})}})
	add(gradCase{Name: "Mean_nhwc_moments_keep", Op: "Mean", Inputs: []input{x("input", r, nhwc, -1, 1), fixed("axis", ints("int32", 0, 1, 2))},
		Attrs: map[string]any{"keep_dims": true}, Upstream: []*tensorSpec{up(r, []int64{1, 1, 1, 4})}})
	r6 := x("features", r, nhwc, -3, 9)
	copy(r6.Values, []float64{0, 6, math.Nextafter(0, -1), float64(math.Nextafter32(6, 7)), float64(math.Nextafter32(6, 0))})
	add(gradCase{Name: "Relu6_NHWC_edges", Op: "Relu6", Inputs: []input{r6}, Upstream: []*tensorSpec{up(r, nhwc)}})
}

// outDim is the output size of a window of k with stride s over n.
func outDim(n, k, s int64, padding string) int64 {
	if padding == "SAME" {
		return (n + s - 1) / s
	}
	return (n - k + s) / s
}

func (s tensorSpec) tensor() (*tf.Tensor, error) {
	switch s.DType {
	case "float32":
		v := make([]float32, len(s.Values))
		for i, x := range s.Values {
			v[i] = float32(x)
		}
		if len(s.Shape) == 0 {
			return tf.NewTensor(v[0])
		}
		return tfgraph.NewTensor(s.Shape, v)
	case "float64":
		t, err := tf.NewTensor(s.Values)
		if err != nil {
			return nil, err
		}
		return t, t.Reshape(s.Shape)
	case "bool":
		v := make([]bool, len(s.Values))
		for i, x := range s.Values {
			v[i] = x != 0
		}
		t, err := tf.NewTensor(v)
		if err != nil {
			return nil, err
		}
		return t, t.Reshape(s.Shape)
	case "int32":
		v := make([]int32, len(s.Values))
		for i, x := range s.Values {
			v[i] = int32(x)
		}
		if len(s.Shape) == 0 {
			return tf.NewTensor(v[0])
		}
		t, err := tf.NewTensor(v)
		if err != nil {
			return nil, err
		}
		return t, t.Reshape(s.Shape)
	}
	return nil, fmt.Errorf("dtype %s", s.DType)
}

// goGradients builds the case in a graph and returns the Go gradients of
// each differentiable input, flattened.
func goGradients(c gradCase) ([][]float64, error) {
	g := tfgraph.NewGraph()
	var args []any
	var xs []tf.Output
	for i, in := range c.Inputs {
		if in.List != nil {
			var list []tf.Output
			for j, s := range in.List {
				t, err := s.tensor()
				if err != nil {
					return nil, err
				}
				o := g.Const(fmt.Sprintf("in%d_%d", i, j), t)
				list = append(list, o)
				xs = append(xs, o)
			}
			args = append(args, list)
			continue
		}
		t, err := in.tensor()
		if err != nil {
			return nil, err
		}
		o := g.Const(fmt.Sprintf("in%d", i), t)
		args = append(args, o)
		if in.Diff {
			xs = append(xs, o)
		}
	}
	outs, err := buildCase(g, c, args)
	if err != nil {
		return nil, err
	}
	var ys, dys []tf.Output
	for i, u := range c.Upstream {
		if u == nil {
			continue
		}
		t, err := u.tensor()
		if err != nil {
			return nil, err
		}
		ys = append(ys, outs[i])
		dys = append(dys, g.Const(fmt.Sprintf("up%d", i), t))
	}
	grads, err := g.Gradients(tfgraph.DefaultRegistry(), ys, xs, dys)
	if err != nil {
		return nil, err
	}
	sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1, Numerics: tfgraph.EagerNumerics})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	var fetch []tf.Output
	var idx []int
	for i, gr := range grads {
		if gr.Op != nil {
			fetch = append(fetch, gr)
			idx = append(idx, i)
		}
	}
	if len(fetch) == 0 {
		return make([][]float64, len(xs)), nil
	}
	out, err := sess.Run(nil, fetch, nil)
	if err != nil {
		return nil, err
	}
	res := make([][]float64, len(xs))
	for k, i := range idx {
		var buf []float64
		switch v := out[k]; v.DataType() {
		case tf.Float:
			f, err := tfgraph.Float32s(v)
			if err != nil {
				return nil, err
			}
			for _, x := range f {
				buf = append(buf, float64(x))
			}
		default:
			return nil, fmt.Errorf("gradient %d has type %v", i, v.DataType())
		}
		res[i] = buf
	}
	return res, nil
}

// TestGradientsMatchGradientTape checks every op in the default registry:
// Go's gradient against tf.GradientTape's on the same inputs and upstream
// gradients (third_party/reference/op_gradients.py).
func TestGradientsMatchGradientTape(t *testing.T) {
	cs := cases()
	covered := map[string]bool{}
	for _, c := range cs {
		covered[c.Op] = true
	}
	reg := tfgraph.DefaultRegistry()
	ops := reg.OpTypes()
	sort.Strings(ops)
	for _, op := range ops {
		if !covered[op] {
			t.Errorf("registered op %s has no gradient test case", op)
		}
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "cases.json"), filepath.Join(dir, "grads.json")
	b, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Run("op_gradients.py", in, out); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var tape struct {
		Grads  map[string][][]float64
		Errors map[string]string
	}
	if err := json.Unmarshal(raw, &tape); err != nil {
		t.Fatal(err)
	}
	identical, refused := 0, 0
	for _, c := range cs {
		got, err := goGradients(c)
		if msg, ok := tape.Errors[c.Name]; ok {
			// TensorFlow on this CPU lacks a kernel the gradient needs;
			// Go, running the same kernels, must fail with its message.
			if _, rest, ok := strings.Cut(msg, "}} "); ok { // eager's "{{function_node ...}}" prefix
				msg = rest
			}
			first, _, _ := strings.Cut(msg, ". ")
			if err == nil || !strings.Contains(err.Error(), first) {
				t.Errorf("%s: tf.GradientTape failed (%s); Go: %v", c.Name, msg, err)
			}
			refused++
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		w := tape.Grads[c.Name]
		if len(w) != len(got) {
			t.Errorf("%s: %d gradients from Go, %d from TF", c.Name, len(got), len(w))
			continue
		}
		exact, maxDiff := true, 0.0
		for i := range w {
			if (w[i] == nil) != (got[i] == nil) {
				t.Errorf("%s: gradient %d: Go nil=%v, TF nil=%v", c.Name, i, got[i] == nil, w[i] == nil)
				exact = false
				continue
			}
			if len(w[i]) != len(got[i]) {
				t.Errorf("%s: gradient %d has %d values in Go, %d in TF", c.Name, i, len(got[i]), len(w[i]))
				exact = false
				continue
			}
			for j := range w[i] {
				a, b := got[i][j], w[i][j]
				if a == b {
					continue
				}
				exact = false
				d := math.Abs(a - b)
				maxDiff = math.Max(maxDiff, d)
				if d > 1e-6*math.Max(math.Abs(a), math.Abs(b)) && d > 1e-7 {
					t.Errorf("%s: gradient %d[%d]: Go %v, TF %v", c.Name, i, j, a, b)
					break
				}
			}
		}
		switch {
		case exact:
			identical++
		case c.exact:
			t.Errorf("%s: not bit-identical to tf.GradientTape (max |difference| %g)", c.Name, maxDiff)
		default:
			t.Logf("%s: within tolerance but not bit-identical (max |difference| %g)", c.Name, maxDiff)
		}
	}
	t.Logf("%d of %d cases bit-identical to tf.GradientTape (%d op types); %d refused by this CPU's kernels, in TF and Go alike", identical, len(cs), len(ops), refused)
}
