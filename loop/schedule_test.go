package loop_test

import (
	"math"
	"sort"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

// flatBatches returns steps MNIST training batches of batch images as flat
// 784-vectors for the MLP, and the dataset they make up (for NewTrainer).
func flatBatches(t *testing.T, steps, batch int, seed uint64) (xs, ys []data.Array, all data.Dataset) {
	t.Helper()
	train, _ := cachedMNIST(t)
	bt, err := data.NewBatcher(train, batch, seed)
	if err != nil {
		t.Fatal(err)
	}
	all.X.Shape = []int64{int64(steps * batch), 784}
	all.Y.Shape = []int64{int64(steps * batch), 10}
	for i := 0; i < steps; i++ {
		x, y := bt.Next()
		x.Shape = []int64{int64(batch), 784} // same data, [32, 28, 28, 1] -> [32, 784]
		xs, ys = append(xs, x), append(ys, y)
		all.X.Data = append(all.X.Data, x.Data...)
		all.Y.Data = append(all.Y.Data, y.Data...)
	}
	return xs, ys, all
}

// mlpTrainer returns a trainer of m on all from init, with batch-size
// batch and learning rate 1e-3 in a one-thread session.
func mlpTrainer(t *testing.T, m models.Model, all data.Dataset, init data.Weights, batch int) *loop.Trainer {
	t.Helper()
	cfg := loop.DefaultConfig()
	cfg.Optimizer = adam(1e-3)
	cfg.BatchSize = batch
	cfg.Session = oneThread
	tr, err := loop.NewTrainer(m, all, init, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// sameBits reports whether two weight sets hold bit-identical values.
func sameBits(a, b data.Weights) bool {
	if len(a) != len(b) {
		return false
	}
	for n, x := range a {
		y, ok := b[n]
		if !ok || len(x.Data) != len(y.Data) {
			return false
		}
		for i := range x.Data {
			if math.Float32bits(x.Data[i]) != math.Float32bits(y.Data[i]) {
				return false
			}
		}
	}
	return true
}

// TestScheduleQuantDelay shows that with Schedule.QuantDelay 3 the MLP
// trains in float for steps 1..3: on the same batches from the same initial
// weights, its losses and weights stay bit-identical to those of the float
// MLP (the fake-quant branch is blended in with weight exactly 0, so it
// changes neither the forward values nor the gradients) while its ranges
// already learn, and from step 4 on, when fake quantization turns on, the
// losses differ.
func TestScheduleQuantDelay(t *testing.T) {
	const steps, batch, delay = 6, 32, 3
	xs, ys, all := flatBatches(t, steps, batch, 13)
	init, err := models.MLP(nil).InitialWeights(nil, 17)
	if err != nil {
		t.Fatal(err)
	}
	scheme := qat.Default8Bit()
	scheme.Schedule = qat.Schedule{QuantDelay: delay}
	float := mlpTrainer(t, models.MLP(nil), all, init, batch)
	defer float.Close()
	delayed := mlpTrainer(t, models.MLP(scheme), all, init, batch)
	defer delayed.Close()
	start, err := delayed.Ranges()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < steps; i++ {
		lf, err := float.StepOn(xs[i], ys[i])
		if err != nil {
			t.Fatal(err)
		}
		ld, err := delayed.StepOn(xs[i], ys[i])
		if err != nil {
			t.Fatal(err)
		}
		wf, err := float.Weights()
		if err != nil {
			t.Fatal(err)
		}
		wd, err := delayed.Weights()
		if err != nil {
			t.Fatal(err)
		}
		sameLoss := math.Float32bits(lf) == math.Float32bits(ld)
		sameW := sameBits(wf, wd)
		t.Logf("step %d: loss float %.8f, delayed QAT %.8f (rel diff %.3g); weights after the step bit-identical: %v",
			i+1, lf, ld, relDiff(lf, ld), sameW)
		switch step := i + 1; {
		case step <= delay:
			if step == delay {
				// The ranges learn during the delay, from float values.
				r, err := delayed.Ranges()
				if err != nil {
					t.Fatal(err)
				}
				n := "d1/post_activation_max"
				t.Logf("%s: %v at the start, %v after the delay", n, start[n].Data, r[n].Data)
				if sameBits(data.Weights{n: start[n]}, data.Weights{n: r[n]}) {
					t.Errorf("%s did not move during the delay", n)
				}
			}
			if !sameLoss {
				t.Errorf("step %d (during the delay): loss %v, float %v; want bit-identical", step, ld, lf)
			}
			if !sameW {
				t.Errorf("step %d (during the delay): weights after the step differ from the float model's", step)
			}
		case step == delay+1:
			// Same weights (checked above), now quantized forward pass.
			if sameLoss {
				t.Errorf("step %d (quantization on): loss %v equals the float model's", step, ld)
			}
		default:
			if sameLoss {
				t.Errorf("step %d: loss %v equals the float model's", step, ld)
			}
		}
	}
}

// TestScheduleFreezeRanges shows that with Schedule.FreezeRangesAfter 5 the
// quantizer ranges of the MLP move during steps 1..5 and then keep their
// values: Trainer.Ranges after step 5 and after step 10 are bit-identical,
// while the weights keep training.
func TestScheduleFreezeRanges(t *testing.T) {
	const steps, batch, freeze = 10, 32, 5
	xs, ys, all := flatBatches(t, steps, batch, 19)
	scheme := qat.Default8Bit()
	scheme.Schedule = qat.Schedule{FreezeRangesAfter: freeze}
	m := models.MLP(scheme)
	init, err := m.InitialWeights(nil, 23)
	if err != nil {
		t.Fatal(err)
	}
	tr := mlpTrainer(t, m, all, init, batch)
	defer tr.Close()
	snap := map[int]data.Weights{}
	weights := map[int]data.Weights{}
	for i := 0; i < steps; i++ {
		if _, err := tr.StepOn(xs[i], ys[i]); err != nil {
			t.Fatal(err)
		}
		if step := i + 1; step == 1 || step == freeze || step == steps {
			if snap[step], err = tr.Ranges(); err != nil {
				t.Fatal(err)
			}
			if weights[step], err = tr.Weights(); err != nil {
				t.Fatal(err)
			}
		}
	}
	names := snap[1].Names()
	if len(names) == 0 {
		t.Fatal("the trainer has no range variables")
	}
	var moved []string
	for _, n := range names {
		if !sameBits(data.Weights{n: snap[1][n]}, data.Weights{n: snap[freeze][n]}) {
			moved = append(moved, n)
		}
	}
	sort.Strings(moved)
	t.Logf("%d range variables; changed between step 1 and step %d: %v", len(names), freeze, moved)
	for _, n := range []string{"d1/kernel_min", "d1/post_activation_min", "d1/post_activation_max", "d2/post_activation_max"} {
		if !sameBits(data.Weights{n: snap[1][n]}, data.Weights{n: snap[freeze][n]}) {
			continue
		}
		t.Errorf("%s did not change between step 1 and step %d (still %v)", n, freeze, snap[1][n].Data)
	}
	if !sameBits(snap[freeze], snap[steps]) {
		for _, n := range names {
			if !sameBits(data.Weights{n: snap[freeze][n]}, data.Weights{n: snap[steps][n]}) {
				t.Errorf("%s changed after the freeze: %v after step %d, %v after step %d",
					n, snap[freeze][n].Data, freeze, snap[steps][n].Data, steps)
			}
		}
	}
	if sameBits(weights[freeze], weights[steps]) {
		t.Error("the weights did not change after the ranges froze")
	}
	t.Logf("d1/post_activation after steps 1, %d, %d: [%v, %v], [%v, %v], [%v, %v]", freeze, steps,
		snap[1]["d1/post_activation_min"].Data, snap[1]["d1/post_activation_max"].Data,
		snap[freeze]["d1/post_activation_min"].Data, snap[freeze]["d1/post_activation_max"].Data,
		snap[steps]["d1/post_activation_min"].Data, snap[steps]["d1/post_activation_max"].Data)
}
