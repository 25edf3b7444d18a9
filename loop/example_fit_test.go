package loop_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// Train with validation data and callbacks, as Keras's
// model.fit(x, y, validation_data=..., callbacks=[EarlyStopping(...),
// ModelCheckpoint(save_best_only=True), LambdaCallback(...)]) does.
func ExampleFit() {
	cfg, err := models.ParseConfig(strings.NewReader(`
inputs: 10
batch_size: 20
layers:
  - {type: dense, name: hidden, units: 32, activation: relu}
  - {type: dense, name: out, units: 2}
scheme:
  default: {weight_bits: 8, activation_bits: 8}
`))
	if err != nil {
		log.Fatal(err)
	}
	m, err := cfg.Model()
	if err != nil {
		log.Fatal(err)
	}
	all, err := data.Synthetic(200, 10, 2, 1)
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 200; i++ { // class 1 when the first input is positive
		c := 0
		if all.X.Data[i*10] > 0 {
			c = 1
		}
		all.Y.Data[i*2], all.Y.Data[i*2+1] = float32(1-c), float32(c)
	}
	train, _ := all.Slice(0, 160) // the last 20% for validation, as Keras's validation_split
	val, _ := all.Slice(160, 200)
	lc := loop.DefaultConfig()
	lc.BatchSize = 20
	tr, err := loop.NewTrainer(m, train, nil, lc)
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	dir, err := os.MkdirTemp("", "best")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	stop := &loop.EarlyStopping{Monitor: loop.MetricValLoss, Patience: 2, RestoreBestWeights: true}
	best := &loop.BestCheckpoint{Dir: dir, Monitor: loop.MetricValAccuracy}
	// The figures are rounded: TensorFlow's kernels differ by CPU (oneDNN's
	// with AVX-512, Eigen's without), and so do the last digits of a run.
	show := func(r loop.EpochResult) {
		fmt.Printf("epoch %d: loss %.2f accuracy %.2f val_loss %.2f val_accuracy %.2f\n", r.Epoch, r.Loss, r.Accuracy, r.ValLoss, r.ValAccuracy)
	}
	first := loop.CallbackFuncs{OnEpochEnd: func(r loop.EpochResult) error {
		if r.Epoch == 5 {
			show(r)
		}
		return nil
	}}
	h, err := loop.Fit(context.Background(), tr, loop.FitConfig{Epochs: 30, Validation: &val}, stop, best, first)
	if err != nil {
		log.Fatal(err)
	}
	show(h.Epochs[len(h.Epochs)-1])
	fmt.Printf("%d epochs, stopped early: %v; best val_loss at epoch %d; a best checkpoint: %v\n", len(h.Epochs), h.Stopped, stop.BestEpoch, best.Epoch > 0)
	// Output:
	// epoch 5: loss 0.16 accuracy 0.99 val_loss 0.18 val_accuracy 0.93
	// epoch 20: loss 0.02 accuracy 1.00 val_loss 0.07 val_accuracy 1.00
	// 20 epochs, stopped early: true; best val_loss at epoch 18; a best checkpoint: true
}
