package loop_test

import (
	"context"
	"fmt"
	"log"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// Train the article's Example 3 (10 -> 32 -> 10, weights and biases
// fake-quantized in [-0.1, 0.1], activations in [-1, 1]) on its synthetic
// data with Adam(learning_rate=0.01).
func ExampleNewTrainer() {
	m := models.Example3()
	data, err := data.Synthetic(100, int(m.Input[0]), m.Classes(), 42)
	if err != nil {
		log.Fatal(err)
	}
	tr, err := loop.NewTrainer(m, data, nil, loop.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	err = tr.Run(context.Background(), 100, func(r loop.StepResult) error {
		if r.Step == 1 || r.Step == 100 {
			fmt.Printf("step %d: loss %.4f\n", r.Step, r.Loss)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	w, err := tr.Weights()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Names())
	// Output:
	// step 1: loss 2.3359
	// step 100: loss 2.1855
	// [layer1/bias_fp layer1/weight_fp layer2/bias_fp layer2/weight_fp]
}

// A config's optimizer block as the trainer's optimizer: here Keras's SGD
// with Nesterov momentum and a cosine-decay learning rate.
func ExampleNewOptimizer() {
	opt, err := loop.NewOptimizer(models.OptimizerConfig{Name: "sgd", LearningRate: 0.1, Momentum: 0.9, Nesterov: true,
		Schedule: &models.ScheduleConfig{Name: "cosine_decay", DecaySteps: 1000}})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := loop.DefaultConfig()
	cfg.Optimizer = opt
	sgd := opt.(loop.SGD)
	fmt.Printf("%T momentum %g nesterov %v, schedule %T%+v\n", opt, sgd.Momentum, sgd.Nesterov, sgd.Schedule, sgd.Schedule)
	// Output: loop.SGD momentum 0.9 nesterov true, schedule loop.CosineDecay{Initial:0.1 DecaySteps:1000 Alpha:0 WarmupTarget:0 WarmupSteps:0}
}
