package tensorboard_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/tbevents"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tensorboard"
)

// exampleTrainer is the article's Example 3 on synthetic data.
func exampleTrainer(t *testing.T) *loop.Trainer {
	t.Helper()
	m := models.Example3()
	ds, err := data.Synthetic(20, int(m.Input[0]), m.Classes(), 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := loop.NewTrainer(m, ds, nil, loop.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// A RunLogger logs the due steps to train/ and validation scalars to
// validation/, which TensorBoard reads back; Discard leaves the folder as
// it was.
func TestRunLogger(t *testing.T) {
	tr := exampleTrainer(t)
	logs := filepath.Join(t.TempDir(), "logs")
	l, err := tensorboard.NewRunLogger(tr, tensorboard.RunConfig{Dir: logs, Every: 2, Steps: 3, Optimizer: loop.DefaultConfig().Optimizer})
	if err != nil {
		t.Fatal(err)
	}
	var losses []float32
	err = tr.Run(context.Background(), 3, func(r loop.StepResult) error {
		losses = append(losses, r.Loss)
		return l.Step(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Train(3, map[string]float32{"accuracy": 0.25}); err != nil {
		t.Fatal(err)
	}
	if err := l.Validation(3, map[string]float32{"loss": 1.25, "accuracy": 0.5}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	train, err := tbevents.Read(filepath.Join(logs, tensorboard.TrainRun))
	if err != nil {
		t.Fatal(err)
	}
	loss, lr := train.Scalars["loss"], train.Scalars["learning_rate"]
	if len(loss) != 2 || loss[0].Step() != 2 || loss[0].Value() != losses[1] || loss[1].Step() != 3 || loss[1].Value() != losses[2] {
		t.Errorf("loss events %v, want steps 2 and 3 with %v", loss, losses[1:])
	}
	if len(lr) != 2 || lr[0].Value() != 0.01 || lr[1].Value() != 0.01 {
		t.Errorf("learning_rate events %v, want 0.01 at steps 2 and 3", lr)
	}
	for _, tag := range []string{"weights/layer1/weight_fp", "quantized/layer1/weight_quant", "quantized/layer2/bias_quant"} {
		if len(train.Histograms[tag]) != 2 {
			t.Errorf("histogram %s: %d events, want 2", tag, len(train.Histograms[tag]))
		}
	}
	if a := train.Scalars["accuracy"]; len(a) != 1 || a[0].Step() != 3 || a[0].Value() != 0.25 {
		t.Errorf("train accuracy %v, want 0.25 at step 3", a)
	}
	if q := train.Scalars["quantizer/layer1/output_quant/scale"]; len(q) != 2 || q[1].Value() != float32(2)/255 {
		t.Errorf("quantizer/layer1/output_quant/scale %v, want 2/255 at two steps", q)
	}
	val, err := tbevents.Read(filepath.Join(logs, tensorboard.ValidationRun))
	if err != nil {
		t.Fatal(err)
	}
	if a := val.Scalars["accuracy"]; len(a) != 1 || a[0].Step() != 3 || a[0].Value() != 0.5 || len(val.Scalars) != 2 {
		t.Errorf("validation scalars %v, want accuracy 0.5 and loss at step 3", val.Scalars)
	}

	// Discard: a run that failed leaves no logs folder behind.
	fresh := filepath.Join(t.TempDir(), "fresh")
	l, err = tensorboard.NewRunLogger(tr, tensorboard.RunConfig{Dir: filepath.Join(fresh, "logs"), Every: 1, Steps: 1, Optimizer: loop.NewAdam()})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Validation(1, map[string]float32{"loss": 1}); err != nil {
		t.Fatal(err)
	}
	if err := l.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("Discard left %s: %v", fresh, err)
	}
}
