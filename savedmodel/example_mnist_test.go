package savedmodel_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"

	"github.com/qat-go/qat/data/mnist"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
)

// The README's library example, whole: train tfmot's default 8-bit QAT on
// the MNIST CNN (here 20 steps; an epoch is 937), evaluate it, export it
// as a SavedModel and run that in Go.
func Example_mnist() {
	ctx := context.Background()
	train, test, err := mnist.Load()
	if err != nil {
		log.Fatal(err)
	}
	m := models.MNISTCNN(qat.Default8Bit()) // or your own models.Model{Input, Layers, Scheme}
	cfg := loop.DefaultConfig()
	adam := loop.NewAdam() // or loop.SGD{LearningRate: 0.01, Momentum: 0.9}
	adam.LearningRate = 1e-3
	cfg.Optimizer, cfg.BatchSize = adam, 64
	tr, err := loop.NewTrainer(m, train, nil, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	err = tr.Run(ctx, 20, func(r loop.StepResult) error {
		if r.Step%10 == 0 {
			fmt.Println("step", r.Step) // r.Loss is the step's loss
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	test, err = test.Slice(0, 1000)
	if err != nil {
		log.Fatal(err)
	}
	acc, err := tr.Evaluate(test) // inference graph: stored ranges, moving BN statistics
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("accuracy above 50%:", acc > 0.5)
	w, err := tr.Weights() // float master weights
	if err != nil {
		log.Fatal(err)
	}
	r, err := tr.Ranges() // every quantizer's min/max
	if err != nil {
		log.Fatal(err)
	}
	parent, err := os.MkdirTemp("", "qat-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(parent)
	dir := filepath.Join(parent, "model")
	if err := savedmodel.Export(dir, m, w, r); err != nil { // for TF Serving, Python, TFLite
		log.Fatal(err)
	}
	sm, err := savedmodel.Load(dir, tfgraph.SessionConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer sm.Close()
	logits, err := sm.Predict(test.X)
	if err != nil {
		log.Fatal(err)
	}
	want, err := tr.Predict(test.X)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("SavedModel logits", logits.Shape, "equal the trainer's:", slices.Equal(logits.Data, want.Data))
	// Output:
	// step 10
	// step 20
	// accuracy above 50%: true
	// SavedModel logits [1000 10] equal the trainer's: true
}
