package loop_test

import (
	"math"
	"testing"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

// dropoutCNN is a small 8-bit QAT CNN with a dropout layer of rate before
// its classifier.
func dropoutCNN(rate float64) models.Model {
	return models.Model{Input: []int64{28, 28, 1}, Scheme: qat.Default8Bit(), Layers: []layers.Layer{
		layers.Conv2D{Name: "c1", Filters: 4, Kernel: [2]int{3, 3}, Activation: layers.ReLUAct},
		layers.MaxPool{Name: "p1"},
		layers.Flatten{Name: "f"},
		layers.Dropout{Name: "dr", Rate: rate},
		layers.Dense{Name: "d", Units: 10},
	}}
}

// Dropout's mask comes from the seed and the step, so training 4 steps,
// saving, restoring and training 6 more gives the bits of 10 steps
// straight; and the mask does change training (rate 0.5 vs 0).
func TestDropoutResumeIsExact(t *testing.T) {
	m := dropoutCNN(0.5)
	straight := ckptTrainer(t, m, nil)
	ckptSteps(t, straight, 10)

	first := ckptTrainer(t, m, nil)
	ckptSteps(t, first, 4)
	path, err := first.Save(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	resumed := ckptTrainer(t, m, nil)
	if err := resumed.Restore(path); err != nil {
		t.Fatal(err)
	}
	ckptSteps(t, resumed, 6)
	ckptSameBits(t, "after 4+6 steps vs 10", ckptState(t, straight), ckptState(t, resumed))
	ckptSameLosses(t, "losses 1..10", straight.Losses(), resumed.Losses())

	none := ckptTrainer(t, dropoutCNN(0), nil)
	ckptSteps(t, none, 1)
	a, b := straight.Losses()[0], none.Losses()[0]
	if math.Float32bits(a) == math.Float32bits(b) || math.IsNaN(float64(a)) {
		t.Errorf("step 1 loss with dropout %v, without %v: want both finite and different", a, b)
	}
}
