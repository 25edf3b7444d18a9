package loop_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// runOptimizer applies opt for each gradient in grads to a variable starting at
// init and returns its final value.
func runOptimizer(t *testing.T, opt loop.Optimizer, shape []int64, init []float32, grads [][]float32) []float32 {
	t.Helper()
	g := tfgraph.NewGraph()
	it, err := tfgraph.NewTensor(shape, init)
	if err != nil {
		t.Fatal(err)
	}
	v := g.NewVariable("w", it)
	gp := g.Placeholder("grad", tf.Float, shape)
	train, _, err := opt.Apply(g, []*tfgraph.Variable{v}, []tf.Output{g.Identity("g", gp)})
	if err != nil {
		t.Fatal(err)
	}
	read := v.Read(g, "read")
	initOp := g.InitOp()
	s, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1, Numerics: tfgraph.EagerNumerics})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Run(nil, nil, []*tf.Operation{initOp}); err != nil {
		t.Fatal(err)
	}
	for _, gr := range grads {
		gt, err := tfgraph.NewTensor(shape, gr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Run(map[tf.Output]*tf.Tensor{gp: gt}, nil, []*tf.Operation{train}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.Run(nil, []tf.Output{read}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := tfgraph.Float32s(out[0])
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The Adam variants against TensorFlow: the Keras op sequence against
// Keras 3's Adam, the fused variant against tf.raw_ops.ResourceApplyAdam,
// and Adam with weight decay against Keras 3's AdamW.
func TestAdamMatchesTensorFlow(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	shape := []int64{6, 4}
	const steps = 20
	init, grads, flat := randomSteps(r, steps, 24)
	opt := loop.Adam{LearningRate: 0.003, Beta1: 0.85, Beta2: 0.995, Epsilon: 1e-6}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.npz"), filepath.Join(dir, "out.npz")
	if err := data.WriteNPZ(in, map[string]data.Array{
		"var":   {Shape: shape, Data: init},
		"grads": {Shape: []int64{steps, 6, 4}, Data: flat},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Run("adam_reference.py", in, out, "0.003", "0.85", "0.995", "1e-6", "0.05"); err != nil {
		t.Fatal(err)
	}
	ref, err := data.ReadNPZ(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name        string
		fused       bool
		weightDecay float64
	}{{"keras", false, 0}, {"fused", true, 0}, {"adamw", false, 0.05}} {
		o := opt
		o.Fused, o.WeightDecay = tt.fused, tt.weightDecay
		if sameFloats(t, tt.name+" Adam", runOptimizer(t, o, shape, init, grads), ref[tt.name].Data) {
			t.Logf("%s Adam: %d steps bit-identical to TensorFlow", tt.name, steps)
		}
	}
}

func TestAdamValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*loop.Adam)
		want string
	}{
		{"defaults", func(*loop.Adam) {}, ""},
		{"zero lr", func(a *loop.Adam) { a.LearningRate = 0 }, "learning_rate"},
		{"beta_1 = 1", func(a *loop.Adam) { a.Beta1 = 1 }, "beta_1"},
		{"negative beta_2", func(a *loop.Adam) { a.Beta2 = -0.1 }, "beta_2"},
		{"zero epsilon", func(a *loop.Adam) { a.Epsilon = 0 }, "epsilon"},
		{"negative weight decay", func(a *loop.Adam) { a.WeightDecay = -0.01 }, "weight_decay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := loop.NewAdam()
			tt.mod(&a)
			err := a.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

// adam is Keras's Adam with learning rate lr.
func adam(lr float64) loop.Adam {
	a := loop.NewAdam()
	a.LearningRate = lr
	return a
}

// randomSteps draws from r an initial value of n elements (N(0, 1)) and
// steps gradients (N(0, 0.1)), also as one flat slice.
func randomSteps(r *rand.Rand, steps, n int) (init []float32, grads [][]float32, flat []float32) {
	init = make([]float32, n)
	for i := range init {
		init[i] = float32(r.NormFloat64())
	}
	grads = make([][]float32, steps)
	for s := range grads {
		grads[s] = make([]float32, n)
		for i := range grads[s] {
			grads[s][i] = float32(r.NormFloat64() * 0.1)
		}
		flat = append(flat, grads[s]...)
	}
	return init, grads, flat
}

// sameFloats reports whether got and want hold the same bits, and fails
// the test naming the first element that differs if not.
func sameFloats(t *testing.T, what string, got, want []float32) bool {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return false
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("%s: element %d: Go %v, TensorFlow %v", what, i, got[i], want[i])
			return false
		}
	}
	return true
}
