package tfgraph_test

import (
	"fmt"
	"log"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Gradients of a fake-quantized product: values outside the nudged range
// get no gradient, as in TensorFlow.
func ExampleGraph_Gradients() {
	g := tfgraph.NewGraph()
	w := g.Const("w", []float32{0.05, 0.5, -0.02})
	wq := g.FakeQuantWithMinMaxVars("wq", w, g.Scalar("min", -0.1), g.Scalar("max", 0.1), tfgraph.FakeQuantAttrs{NumBits: 8})
	loss := g.Sum("loss", g.Mul("scaled", wq, g.Const("k", []float32{1, 2, 3})), []int32{0}, false)
	grads, err := g.Gradients(tfgraph.DefaultRegistry(), []tf.Output{loss}, []tf.Output{w}, nil)
	if err != nil {
		log.Fatal(err)
	}
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
	// Output: [1 0 3]
}
