// This file is named to sort last: its 2-thread sessions, run earlier in the
// same test process, change the bits of the 1-thread CNN in
// TestTFMOTParity (rel. 8e-4 on one weight; alone it is bit-identical).

package loop_test

import (
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/data/mnist"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
)

// mnistRun trains m on MNIST for epochs from init and returns the trainer.
func mnistRun(t *testing.T, m models.Model, train data.Dataset, init data.Weights, epochs int, lr float64, ranges map[string][]float32) *loop.Trainer {
	t.Helper()
	cfg := loop.DefaultConfig()
	cfg.Optimizer = adam(lr)
	cfg.BatchSize = 64
	cfg.DataSeed = 7
	cfg.Ranges = ranges
	cfg.Session = tfgraph.SessionConfig{IntraOpThreads: 2, InterOpThreads: 1}
	tr, err := loop.NewTrainer(m, train, init, cfg)
	if err != nil {
		t.Fatal(err)
	}
	steps := epochs * (int(train.X.Shape[0]) / cfg.BatchSize)
	for i := 0; i < steps; i++ {
		if _, err := tr.Step(); err != nil {
			tr.Close()
			t.Fatal(err)
		}
	}
	return tr
}

func accuracy(t *testing.T, tr *loop.Trainer, d data.Dataset) float64 {
	t.Helper()
	acc, err := tr.Evaluate(d)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// TestMNISTAccuracy trains the CNN in float, then fine-tunes it with 8-bit
// QAT and with 4-bit weights / 8-bit activations, and checks the issue's
// targets on the 10,000 test images: float >= 99.0%, QAT 8-bit within 0.3
// points of float, 4/8-bit within 1.0 point.
func TestMNISTAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on MNIST for a few minutes")
	}
	train, test, err := mnist.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Float: 3 epochs at 1e-3, then one at 1e-4 (a step decay).
	ft := mnistRun(t, models.MNISTCNN(nil), train, nil, floatEpochs, 1e-3, nil)
	floatW, err := ft.Weights()
	ft.Close()
	if err != nil {
		t.Fatal(err)
	}
	ft = mnistRun(t, models.MNISTCNN(nil), train, floatW, 1, 1e-4, nil)
	floatAcc := accuracy(t, ft, test)
	floatW, err = ft.Weights()
	ft.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("float CNN, %d+1 epochs: test accuracy %.2f%%", floatEpochs, 100*floatAcc)
	if floatAcc < 0.99 {
		t.Errorf("float accuracy %.2f%% < 99.0%%", 100*floatAcc)
	}
	learnable := qat.Default8Bit()
	learnable.Default.LearnableRanges = true
	for _, c := range []struct {
		name      string
		scheme    *qat.Scheme
		within    float64
		calibrate bool
	}{
		{"QAT 8-bit", qat.Default8Bit(), 0.003, false},
		{"QAT 4-bit weights / 8-bit activations", qat.Bits(4, 8), 0.010, false},
		{"QAT 8-bit, learnable activation ranges", learnable, 0.003, false},
		{"QAT 8-bit, ranges calibrated on 10 batches", qat.Default8Bit(), 0.003, true},
	} {
		m := models.MNISTCNN(c.scheme)
		var ranges map[string][]float32
		if c.calibrate {
			b, err := data.NewBatcher(train, 64, 7)
			if err != nil {
				t.Fatal(err)
			}
			var xs []data.Array
			for i := 0; i < 10; i++ {
				x, _ := b.Next()
				xs = append(xs, x)
			}
			if ranges, err = loop.Calibrate(m, xs, floatW, 0, tfgraph.SessionConfig{IntraOpThreads: 2, InterOpThreads: 1}); err != nil {
				t.Fatal(err)
			}
		}
		tr := mnistRun(t, m, train, floatW, 1, 1e-4, ranges)
		acc := accuracy(t, tr, test)
		tr.Close()
		t.Logf("%s, fine-tuned 1 epoch from float: fake-quant test accuracy %.2f%% (float %.2f%%, %+.2f points)",
			c.name, 100*acc, 100*floatAcc, 100*(acc-floatAcc))
		if acc < floatAcc-c.within {
			t.Errorf("%s: accuracy %.2f%% is more than %.1f points below float %.2f%%", c.name, 100*acc, 100*c.within, 100*floatAcc)
		}
	}
}

const floatEpochs = 3
