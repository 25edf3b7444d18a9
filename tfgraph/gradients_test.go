package tfgraph_test

import (
	"strings"
	"testing"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// An op without a registered gradient between the loss and a variable is an
// error that names the op and the path from the loss to it.
func TestGradientsMissingGradientNamesPath(t *testing.T) {
	g := tfgraph.NewGraph()
	x := g.Const("x", []float32{1, 2, 3})
	floor := g.Op1("Floor", "floor", []any{x}, nil)
	loss := g.Sum("loss", g.Square("square", floor), []int32{0}, false)
	_, err := g.Gradients(tfgraph.DefaultRegistry(), []tf.Output{loss}, []tf.Output{x}, nil)
	if err == nil {
		t.Fatal("no error for an op without gradient")
	}
	for _, want := range []string{"no gradient registered for op type Floor", "floor (Floor)", "square (Square)", "loss/Sum (Sum)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// Gradients of a value reached along two paths are summed; a value the loss
// does not depend on gets no gradient.
func TestGradientsSumsPathsAndSkipsUnused(t *testing.T) {
	g := tfgraph.NewGraph()
	a := g.Const("a", []float32{1, 2})
	unused := g.Const("unused", []float32{5})
	y := g.Sum("y", g.AddV2("add", g.Mul("mul", a, a), a), []int32{0}, false) // sum(a^2 + a)
	grads, err := g.Gradients(tfgraph.DefaultRegistry(), []tf.Output{y}, []tf.Output{a, unused}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if grads[1].Op != nil {
		t.Error("unused input got a gradient")
	}
	s, err := tfgraph.NewSession(g, tfgraph.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(nil, []tf.Output{grads[0]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Value().([]float32); got[0] != 3 || got[1] != 5 {
		t.Errorf("d/da sum(a^2+a) = %v, want [3 5]", got)
	}
}

// Building never panics: a missing input or an unknown op type becomes the
// graph's error.
func TestBuildErrorsAreSticky(t *testing.T) {
	tests := []struct {
		name  string
		build func(g *tfgraph.Graph)
		want  string
	}{
		{"missing input", func(g *tfgraph.Graph) { g.Neg("neg", tf.Output{}) }, "input 0 is missing"},
		{"unknown op", func(g *tfgraph.Graph) { g.Op("NoSuchOp", "", nil, nil) }, "NoSuchOp"},
		{"conv strides", func(g *tfgraph.Graph) {
			x := g.Const("x", [][][][]float32{{{{1}}}})
			g.Conv2D("conv", x, x, []int64{1, 1}, "SAME")
		}, "conv (Conv2D): strides [1 1]: want 4 entries"},
		{"pool padding", func(g *tfgraph.Graph) {
			g.MaxPool("pool", g.Const("x", [][][][]float32{{{{1}}}}), []int64{1, 1, 1, 1}, []int64{1, 1, 1, 1}, "same")
		}, `padding "same": want SAME or VALID`},
		{"pool ksize", func(g *tfgraph.Graph) {
			g.AvgPool("pool", g.Const("x", [][][][]float32{{{{1}}}}), nil, []int64{1, 1, 1, 1}, "VALID")
		}, "ksize []: want 4 entries"},
		{"bad shapes", func(g *tfgraph.Graph) {
			g.MatMul("mm", g.Const("a", [][]float32{{1, 2}}), g.Const("b", [][]float32{{1, 2}}), false, false)
		}, "mm (MatMul)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tfgraph.NewGraph()
			tt.build(g)
			g.Neg("after", g.Const("c", float32(1))) // later calls are no-ops
			if err := g.Err(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Err() = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// With a batch size known only at run time, the broadcast gradient of AddV2
// reduces through BroadcastGradientArgs and gives the same values as the
// static path.
func TestBroadcastGradientDynamicShape(t *testing.T) {
	vals := [][]float32{{1, -2, 3}, {0.5, 4, -1}, {2, 2, 2}, {-3, 1, 0}}
	grad := func(dynamic bool) []float32 {
		g := tfgraph.NewGraph()
		shape := []int64{4, 3}
		if dynamic {
			shape = []int64{-1, 3}
		}
		x := g.Placeholder("x", tf.Float, shape)
		b := g.Const("b", []float32{0.1, 0.2, 0.3})
		loss := g.Sum("loss", g.Square("sq", g.AddV2("add", x, b)), []int32{1}, false)
		grads, err := g.Gradients(tfgraph.DefaultRegistry(), []tf.Output{loss}, []tf.Output{b}, []tf.Output{g.Const("up", []float32{1, 1, 1, 1})})
		if err != nil {
			t.Fatal(err)
		}
		xt, _ := tf.NewTensor(vals)
		return run1(t, g, map[tf.Output]*tf.Tensor{x: xt}, grads[0])
	}
	static, dynamic := grad(false), grad(true)
	for i := range static {
		if static[i] != dynamic[i] {
			t.Fatalf("dynamic-shape gradient %v, static %v", dynamic, static)
		}
	}
}

// A path through StopGradient gives nothing and is no error, even past an op
// with no registered gradient (Floor): only ops a gradient flows into need
// one, as in TensorFlow. An x reached only through it gets a zero Output.
func TestGradientsStopGradient(t *testing.T) {
	g := tfgraph.NewGraph()
	x := g.Const("x", []float32{1, 2, 3})
	only := g.Const("only", []float32{4, 5, 6})
	blocked := g.StopGradient("stop", g.AddV2("add", g.Op1("Floor", "floor", []any{x}, nil), only))
	loss := g.Sum("loss", g.Mul("mul", g.Square("sq", x), blocked), []int32{0}, false) // sum(x^2 * sg(floor(x)+only))
	grads, err := g.Gradients(tfgraph.DefaultRegistry(), []tf.Output{loss}, []tf.Output{x, only}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if grads[1].Op != nil {
		t.Error("input reached only through StopGradient got a gradient")
	}
	got := run1(t, g, nil, grads[0])
	for i, want := range []float32{2 * 1 * 5, 2 * 2 * 7, 2 * 3 * 9} {
		if got[i] != want {
			t.Fatalf("d/dx = %v, want [10 28 54]", got)
		}
	}
}

// SelectV2 on a comparison: the comparison is not differentiable, the
// gradient goes through the selected branch only.
func TestGradientsThroughComparison(t *testing.T) {
	g := tfgraph.NewGraph()
	x := g.Const("x", []float32{-1, 0, 2})
	zero := g.Scalar("zero", 0)
	y := g.SelectV2("relu", g.GreaterEqual("ge", x, zero), x, g.ZerosLike("zeros", x))
	loss := g.Sum("loss", g.Mul("mul", y, g.Const("w", []float32{3, 4, 5})), []int32{0}, false)
	grads, err := g.Gradients(tfgraph.DefaultRegistry(), []tf.Output{loss}, []tf.Output{x}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := run1(t, g, nil, grads[0]); got[0] != 0 || got[1] != 4 || got[2] != 5 {
		t.Errorf("d/dx = %v, want [0 4 5]", got)
	}
}

// NotDifferentiable and Register replace each other; OpTypes lists both.
func TestRegistryNotDifferentiable(t *testing.T) {
	var r tfgraph.Registry
	r.Register("A", nil)
	r.NotDifferentiable("A", "B")
	if !r.IsNotDifferentiable("A") || !r.IsNotDifferentiable("B") {
		t.Error("NotDifferentiable did not mark A and B")
	}
	if f, ok := r.Lookup("B"); !ok || f == nil {
		t.Error("Lookup of a not-differentiable type found no function")
	}
	r.Register("B", nil)
	if r.IsNotDifferentiable("B") {
		t.Error("Register did not replace the NotDifferentiable mark")
	}
	if n := len(r.OpTypes()); n != 2 {
		t.Errorf("OpTypes has %d entries, want 2", n)
	}
}

// The reduction and broadcasting gradients give the same values whether the
// batch size is static or known only at run time.
func TestLayerGradientsDynamicShape(t *testing.T) {
	vals := [][]float32{{1, -2, 3}, {0.5, 3, -1}, {1, 2, 3}, {-3, 3, 0}} // ties in columns 0 and 1
	tests := []struct {
		name string
		f    func(g *tfgraph.Graph, x tf.Output) tf.Output
	}{
		{"Min", func(g *tfgraph.Graph, x tf.Output) tf.Output { return g.Min("min", x, []int32{0}, false) }},
		{"Max_all", func(g *tfgraph.Graph, x tf.Output) tf.Output { return g.Max("max", x, []int32{0, 1}, false) }},
		{"Max_keep", func(g *tfgraph.Graph, x tf.Output) tf.Output { return g.Max("max", x, []int32{0}, true) }},
		{"Mean", func(g *tfgraph.Graph, x tf.Output) tf.Output { return g.Mean("mean", x, []int32{0}, false) }},
		{"Maximum", func(g *tfgraph.Graph, x tf.Output) tf.Output {
			return g.Maximum("maximum", x, g.Const("y", []float32{0, 3, 1}))
		}},
		{"Minimum", func(g *tfgraph.Graph, x tf.Output) tf.Output { return g.Minimum("minimum", x, g.Scalar("y", 1)) }},
		{"SquaredDifference", func(g *tfgraph.Graph, x tf.Output) tf.Output {
			return g.SquaredDifference("sd", x, g.Const("y", []float32{0.25, -1, 2}))
		}},
		{"Rsqrt", func(g *tfgraph.Graph, x tf.Output) tf.Output {
			return g.Rsqrt("rsqrt", g.AddV2("pos", g.Square("sq", x), g.Scalar("one", 1)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grad := func(dynamic bool) []float32 {
				g := tfgraph.NewGraph()
				shape := []int64{4, 3}
				if dynamic {
					shape = []int64{-1, 3}
				}
				x := g.Placeholder("x", tf.Float, shape)
				y := tt.f(g, x)
				var loss tf.Output
				switch dims, _ := tfgraph.ShapeOf(y); len(dims) {
				case 0:
					loss = g.Mul("loss", y, g.Scalar("wv", 0.5))
				case 1:
					loss = g.Sum("loss", g.Mul("w", y, g.Const("wv", []float32{0.5, -2, 3})), []int32{0}, false)
				default:
					loss = g.Sum("loss", g.Mul("w", y, g.Const("wv", []float32{0.5, -2, 3})), []int32{0, 1}, false)
				}
				grads, err := g.Gradients(tfgraph.DefaultRegistry(), []tf.Output{loss}, []tf.Output{x}, nil)
				if err != nil {
					t.Fatal(err)
				}
				xt, _ := tf.NewTensor(vals)
				return run1(t, g, map[tf.Output]*tf.Tensor{x: xt}, grads[0])
			}
			static, dynamic := grad(false), grad(true)
			for i := range static {
				if static[i] != dynamic[i] {
					t.Fatalf("dynamic-shape gradient %v, static %v", dynamic, static)
				}
			}
		})
	}
}

// run1 runs one float32 output of g with the given feeds (may be nil).
func run1(t *testing.T, g *tfgraph.Graph, feeds map[tf.Output]*tf.Tensor, o tf.Output) []float32 {
	t.Helper()
	s, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(feeds, []tf.Output{o}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := tfgraph.Float32s(out[0])
	if err != nil {
		t.Fatal(err)
	}
	return f
}
