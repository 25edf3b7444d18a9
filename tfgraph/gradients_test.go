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
		s, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		xt, _ := tf.NewTensor(vals)
		out, err := s.Run(map[tf.Output]*tf.Tensor{x: xt}, []tf.Output{grads[0]}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Value().([]float32)
	}
	static, dynamic := grad(false), grad(true)
	for i := range static {
		if static[i] != dynamic[i] {
			t.Fatalf("dynamic-shape gradient %v, static %v", dynamic, static)
		}
	}
}
