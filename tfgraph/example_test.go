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

// Training-mode fused batch norm of a 1x2x2x1 image: the output is
// normalized with the batch's statistics, and the running mean and variance
// move by a tenth of the way to the batch's (whose variance, 5/3, carries
// Bessel's n/(n-1) correction).
func ExampleGraph_FusedBatchNormV3() {
	g := tfgraph.NewGraph()
	x, err := tfgraph.NewTensor([]int64{1, 2, 2, 1}, []float32{1, 2, 3, 4})
	if err != nil {
		log.Fatal(err)
	}
	one := func(name string, v float32) tf.Output { return g.Const(name, []float32{v}) }
	y, mean, variance := g.FusedBatchNormV3("bn", g.Const("x", x), one("gamma", 1), one("beta", 0),
		one("moving_mean", 0), one("moving_variance", 1),
		tfgraph.FusedBatchNormAttrs{Epsilon: 0, Training: true, ExponentialAvgFactor: 0.1})
	s, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(nil, []tf.Output{y, mean, variance}, nil)
	if err != nil {
		log.Fatal(err)
	}
	ys, _ := tfgraph.Float32s(out[0])
	fmt.Printf("y %.4f\nmean %.4f\nvariance %.4f\n", ys, out[1].Value(), out[2].Value())
	// Output:
	// y [-1.3416 -0.4472 0.4472 1.3416]
	// mean [0.2500]
	// variance [1.0667]
}

// A program that trains or serves with the library keeps the memory
// TensorFlow frees between steps, once, at the start of main.
func ExampleKeepFreedMemory() {
	if err := tfgraph.KeepFreedMemory(); err != nil {
		log.Print(err) // training still runs, with more page faults
	}
	fmt.Println("malloc keeps up to", tfgraph.MallocTrimThreshold>>20, "MiB of free heap")
	// Output: malloc keeps up to 1024 MiB of free heap
}
