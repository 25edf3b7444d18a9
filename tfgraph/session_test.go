package tfgraph_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// RunBatches gives the same values as one run over all rows, for batch
// sizes that divide the rows and that do not, and names bad input.
func TestRunBatches(t *testing.T) {
	g := tfgraph.NewGraph()
	x := g.Placeholder("x", tf.Float, []int64{-1, 2})
	y := g.Sum("y", g.Mul("double", x, g.Scalar("two", 2)), []int32{1}, true)
	sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	data := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, batch := range []int{1, 2, 3, 5, 100} {
		shape, got, err := tfgraph.RunBatches(sess, x, y, []int64{5, 2}, data, batch)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if want := []float32{6, 14, 22, 30, 38}; !slices.Equal(got, want) || !slices.Equal(shape, []int64{5, 1}) {
			t.Errorf("batch %d: %v %v, want [5 1] %v", batch, shape, got, want)
		}
	}
	for _, c := range []struct {
		name  string
		shape []int64
		data  []float32
		batch int
		want  string
	}{
		{"no batch axis", nil, []float32{1}, 2, "input has no batch axis"},
		{"too few values", []int64{5, 2}, data[:9], 2, "input shape [5 2] holds 10 values, got 9"},
		{"no rows", []int64{0, 2}, nil, 2, "input has no examples"},
		{"batch 0", []int64{5, 2}, data, 0, "batch size 0, want >= 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := tfgraph.RunBatches(sess, x, y, c.shape, c.data, c.batch)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}
