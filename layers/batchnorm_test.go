package layers_test

import (
	"slices"
	"testing"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// TestBatchNormPaths checks that BatchNorm is built as Keras runs it:
// FusedBatchNormV3 on 4-D input (is_training in training, with
// exponential_avg_factor 1 - momentum, and two AssignVariableOp updates;
// is_training false in inference), the non-fused ops on 2-D input or with
// NonFused (two AssignSubVariableOp updates in training).
func TestBatchNormPaths(t *testing.T) {
	for _, c := range []struct {
		name     string
		shape    []int64
		training bool
		nonFused bool
		fused    bool
		update   string
	}{
		{"4-D training", []int64{2, 5, 5, 3}, true, false, true, "AssignVariableOp"},
		{"4-D inference", []int64{2, 5, 5, 3}, false, false, true, ""},
		{"4-D training, NonFused", []int64{2, 5, 5, 3}, true, true, false, "AssignSubVariableOp"},
		{"2-D training", []int64{2, 3}, true, false, false, "AssignSubVariableOp"},
		{"2-D inference", []int64{2, 3}, false, false, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := tfgraph.NewGraph()
			x := g.Placeholder("x", tf.Float, c.shape)
			b := layers.NewBuilder(qat.NewEnv(g, c.training, nil), nil, nil, 1)
			if _, err := (layers.BatchNorm{Name: "bn", Momentum: 0.9, NonFused: c.nonFused}).Build(b, x); err != nil {
				t.Fatal(err)
			}
			var fused []*tf.Operation
			for _, op := range g.TF().Operations() {
				if op.Type() == "FusedBatchNormV3" {
					fused = append(fused, &op)
				}
			}
			if got := len(fused) == 1; got != c.fused {
				t.Fatalf("%d FusedBatchNormV3 ops, want fused %v", len(fused), c.fused)
			}
			if c.fused {
				node := g.Node(fused[0])
				if node.Attrs["is_training"] != c.training {
					t.Errorf("is_training %v, want %v", node.Attrs["is_training"], c.training)
				}
				want := float32(1)
				if c.training {
					want = float32(1 - 0.9)
				}
				if f := node.Attrs["exponential_avg_factor"]; f != want {
					t.Errorf("exponential_avg_factor %v, want %v", f, want)
				}
			}
			var updates []string
			for _, op := range b.Updates() {
				updates = append(updates, op.Type())
			}
			var want []string
			if c.update != "" {
				want = []string{c.update, c.update}
			}
			if !slices.Equal(updates, want) {
				t.Errorf("updates %v, want %v", updates, want)
			}
		})
	}
}
