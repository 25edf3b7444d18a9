package loop_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Train with a gradient of your own: ReLU's gradient replaced by a
// straight-through one (the upstream gradient passed on unchanged). Any op
// type can be registered the same way, including one the default registry
// does not know.
func ExampleConfig_gradients() {
	reg := tfgraph.DefaultRegistry()
	reg.Register("Relu", func(g *tfgraph.Graph, n *tfgraph.Node, dys []tf.Output) ([]tf.Output, error) {
		return []tf.Output{dys[0]}, nil
	})
	cfg, err := models.ParseConfig(strings.NewReader(`
inputs: 10
layers:
  - {type: dense, units: 16, activation: relu}
  - {type: dense, units: 3}
`))
	if err != nil {
		log.Fatal(err)
	}
	m, err := cfg.Model()
	if err != nil {
		log.Fatal(err)
	}
	data, err := cfg.Dataset()
	if err != nil {
		log.Fatal(err)
	}
	lc := loop.DefaultConfig()
	lc.Gradients = reg
	tr, err := loop.NewTrainer(m, data, nil, lc)
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	err = tr.Run(context.Background(), 50, func(r loop.StepResult) error {
		if r.Step == 1 || r.Step == 50 {
			fmt.Printf("step %d: loss %.4f\n", r.Step, r.Loss)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// step 1: loss 1.1815
	// step 50: loss 0.8465
}
