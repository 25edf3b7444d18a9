package loop_test

import (
	"math"
	"testing"
	"time"

	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

// TestZooNetsTrain trains the zoo's real-sized models (float and 8-bit
// QAT) for a few full-batch Adam steps on the first 64 MNIST digits, one
// thread: the graph builds, trains, and the loss stays finite and falls
// at every step (it did from 2.40 to 0.27 in 6 float MobileNetV2 steps, to
// 1.72 in 6 ResNet-8 steps). Each model takes under 20 s.
func TestZooNetsTrain(t *testing.T) {
	const (
		examples = 64
		steps    = 4
	)
	train, _ := cachedMNIST(t)
	ds, err := train.Slice(0, examples)
	if err != nil {
		t.Fatal(err)
	}
	input := []int64{28, 28, 1}
	for _, c := range []struct {
		name string
		make func(*qat.Scheme) (models.Model, error)
	}{
		{"mobilenetv2-0.35", func(s *qat.Scheme) (models.Model, error) { return models.MobileNetV2(0.35, input, 10, s) }},
		{"resnet8", func(s *qat.Scheme) (models.Model, error) { return models.ResNet(8, input, 10, s) }},
	} {
		for _, s := range []struct {
			name   string
			scheme *qat.Scheme
		}{{"float", nil}, {"qat8", qat.Default8Bit()}} {
			t.Run(c.name+"/"+s.name, func(t *testing.T) {
				start := time.Now()
				m, err := c.make(s.scheme)
				if err != nil {
					t.Fatal(err)
				}
				cfg := loop.DefaultConfig()
				cfg.Optimizer = adam(1e-3)
				cfg.Session = oneThread
				tr, err := loop.NewTrainer(m, ds, nil, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer tr.Close()
				losses := make([]float32, steps)
				for i := range losses {
					if losses[i], err = tr.Step(); err != nil {
						t.Fatalf("step %d: %v", i+1, err)
					}
					if math.IsNaN(float64(losses[i])) || math.IsInf(float64(losses[i]), 0) {
						t.Fatalf("step %d: loss %g", i+1, losses[i])
					}
				}
				for i := 1; i < steps; i++ {
					if !(losses[i] < losses[i-1]) {
						t.Errorf("loss did not fall at step %d: %v", i+1, losses)
					}
				}
				t.Logf("losses %v in %v", losses, time.Since(start).Round(time.Millisecond))
			})
		}
	}
}
