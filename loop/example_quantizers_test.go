package loop_test

import (
	"fmt"
	"log"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Each quantizer of the article's Example 3, with its range and whether it
// quantizes a weight (whose fake-quantized value comes with it).
func ExampleTrainer_Quantizers() {
	m := models.Example3()
	ds, err := data.Synthetic(10, int(m.Input[0]), m.Classes(), 1)
	if err != nil {
		log.Fatal(err)
	}
	tr, err := loop.NewTrainer(m, ds, nil, loop.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	qs, err := tr.Quantizers()
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range qs[:3] {
		fmt.Printf("%s [%g, %g] %d bits, weight %v, %d quantized values\n", q.Name, q.Min[0], q.Max[0], q.NumBits, q.Weight, len(q.Quantized))
	}
	// Output:
	// layer1/weight_quant [-0.1, 0.1] 8 bits, weight true, 320 quantized values
	// layer1/bias_quant [-0.1, 0.1] 8 bits, weight true, 32 quantized values
	// layer1/output_quant [-1, 1] 8 bits, weight false, 0 quantized values
}

// The learning rate an SGD with exponential decay applies at its 4th
// step (after 3 iterations): 0.1 * 0.5^(3/3).
func ExampleLearningRate() {
	g := tfgraph.NewGraph()
	opt := loop.SGD{LearningRate: 0.1, Schedule: loop.ExponentialDecay{Initial: 0.1, DecaySteps: 3, DecayRate: 0.5}}
	lr, err := loop.LearningRate(g, opt, g.Const("iterations", int64(3)))
	if err != nil {
		log.Fatal(err)
	}
	sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Run(nil, []tf.Output{lr}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out[0].Value())
	// Output: 0.05
}
