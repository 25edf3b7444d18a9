package loop_test

import (
	"strings"
	"testing"

	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// fixedOptimizer is an Optimizer LearningRate does not know.
type fixedOptimizer struct{ loop.Adam }

// LearningRate gives the rate an optimizer's step applies: its schedule's
// (the values Rate computes, which lrschedule_test checks against Keras)
// or its constant rate; an optimizer it does not know is an error.
func TestLearningRate(t *testing.T) {
	decay := loop.ExponentialDecay{Initial: 0.1, DecaySteps: 3, DecayRate: 0.5}
	for _, tc := range []struct {
		name string
		opt  loop.Optimizer
		want []float32
	}{
		{"adam constant", loop.Adam{LearningRate: 0.001}, []float32{0.001, 0.001, 0.001, 0.001, 0.001}},
		{"sgd schedule", loop.SGD{LearningRate: 0.1, Schedule: decay}, rates(t, decay, 5)},
		{"adam pointer", &loop.Adam{LearningRate: 0.1, Schedule: decay}, rates(t, decay, 5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tfgraph.NewGraph()
			it := g.Placeholder("iterations", tf.Int64, []int64{})
			lr, err := loop.LearningRate(g, tc.opt, it)
			if err != nil {
				t.Fatal(err)
			}
			sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1, Numerics: tfgraph.EagerNumerics})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			got := make([]float32, len(tc.want))
			for i := range got {
				n, _ := tf.NewTensor(int64(i))
				out, err := sess.Run(map[tf.Output]*tf.Tensor{it: n}, []tf.Output{lr}, nil)
				if err != nil {
					t.Fatal(err)
				}
				got[i] = out[0].Value().(float32)
			}
			sameFloats(t, tc.name, got, tc.want)
		})
	}
	_, err := loop.LearningRate(tfgraph.NewGraph(), fixedOptimizer{}, tf.Output{})
	if err == nil || !strings.Contains(err.Error(), "fixedOptimizer is not an Adam or SGD") {
		t.Errorf("unknown optimizer: got %v", err)
	}
}
