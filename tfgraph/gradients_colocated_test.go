package tfgraph_test

import (
	"fmt"
	"log"
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

// The gradient of a square on one device, summed on another: each
// gradient op runs where its forward op does.
func ExampleGraph_GradientsColocated() {
	g := tfgraph.NewGraph()
	x := g.WithDevice("/device:CPU:0").Const("x", []float32{1, 2, 3})
	loss := g.Sum("loss", g.WithDevice("/device:CPU:0").Square("square", x), []int32{0}, false)
	grads, err := g.GradientsColocated(tfgraph.DefaultRegistry(), []tf.Output{loss}, []tf.Output{x}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(grads[0].Op.Device())
	s, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(nil, []tf.Output{grads[0]}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out[0].Value())
	// Output:
	// /device:CPU:0
	// [2 4 6]
}
