package tfgraph_test

import (
	"strings"
	"testing"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// GradientsColocated places each op's gradient ops on the op's device,
// whatever the device of the view it is called on; Gradients places them
// on the view's.
func TestGradientsColocated(t *testing.T) {
	for _, tt := range []struct {
		name      string
		colocated bool
	}{{"colocated", true}, {"view's device", false}} {
		t.Run(tt.name, func(t *testing.T) {
			g := tfgraph.NewGraph()
			a := g.WithDevice("/job:worker/task:0")
			b := g.WithDevice("/job:ps/task:0")
			x := a.Const("x", []float32{1, 2, 3})
			sq := a.Square("square", x)
			loss := b.Sum("loss", sq, []int32{0}, false)
			grad := g.WithDevice("/job:chief/task:0").Gradients
			if tt.colocated {
				grad = g.WithDevice("/job:chief/task:0").GradientsColocated
			}
			if _, err := grad(tfgraph.DefaultRegistry(), []tf.Output{loss}, []tf.Output{x}, nil); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, op := range g.TF().Operations() {
				name := op.Name()
				if !strings.HasPrefix(name, "gradients/") {
					continue
				}
				n++
				want := "/job:chief/task:0"
				if tt.colocated {
					want = "/job:ps/task:0"
					if strings.HasPrefix(name, "gradients/square/") {
						want = "/job:worker/task:0"
					}
				}
				if op.Device() != want {
					t.Errorf("%s (%s) on %q, want %q", name, op.Type(), op.Device(), want)
				}
			}
			if n == 0 {
				t.Fatal("no gradient ops")
			}
		})
	}
}
