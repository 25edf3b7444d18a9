package loop_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

func TestNewTrainerRejectsBadInput(t *testing.T) {
	good, err := data.Synthetic(8, 10, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	wrongX, _ := data.Synthetic(8, 7, 10, 1)
	wrongY, _ := data.Synthetic(8, 10, 3, 1)
	short := good
	short.Y = data.Array{Shape: []int64{5, 10}, Data: make([]float32, 50)}
	bits := models.Example3()
	l0 := bits.Layers[0].(layers.ArticleDense)
	l0.Weights = qat.FixedRange{Min: -1, Max: 1, NumBits: 17}
	bits.Layers[0] = l0
	nanRange := models.Example3()
	l1 := nanRange.Layers[1].(layers.ArticleDense)
	l1.Output = qat.FixedRange{Min: float32(math.NaN()), Max: 1, NumBits: 8}
	nanRange.Layers[1] = l1
	badInit := data.Weights{"layer1/weight_fp": {Shape: []int64{3, 3}, Data: make([]float32, 9)}}
	tests := []struct {
		name  string
		model models.Model
		data  data.Dataset
		init  data.Weights
		want  string
	}{
		{"x features", models.Example3(), wrongX, nil, "x has shape [8 7], the model needs [N, 10]"},
		{"y classes", models.Example3(), wrongY, nil, "y has shape [8 3], the model needs [N, 10]"},
		{"example counts", models.Example3(), short, nil, "x has 8 examples and y has 5"},
		{"num_bits 17", bits, good, nil, "layer layer1: weights quantizer: num_bits 17 is outside 2..16"},
		{"NaN range", nanRange, good, nil, "layer layer2: output quantizer: range [NaN, 1] is not finite"},
		{"init shape", models.Example3(), good, badInit, "initial value for layer1/weight_fp has shape [3 3], the model needs [10 32]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := loop.NewTrainer(tt.model, tt.data, tt.init, loop.DefaultConfig())
			if err == nil {
				tr.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// A diverging run stops with an error that says the loss is not finite.
func TestRunStopsOnNaNLoss(t *testing.T) {
	data, err := data.Synthetic(16, 10, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	data.X.Data[3] = float32(math.NaN())
	tr, err := loop.NewTrainer(models.Example3(), data, nil, loop.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	err = tr.Run(context.Background(), 5, nil)
	if err == nil || !strings.Contains(err.Error(), "step 1: loss is NaN") {
		t.Fatalf("Run error = %v, want a NaN-loss error at step 1", err)
	}
}

func TestRunHonoursContext(t *testing.T) {
	tr, err := loop.NewTrainer(models.Example1(), mustSynthetic(t, 16, 10, 2), nil, loop.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	err = tr.Run(ctx, 10, func(r loop.StepResult) error {
		steps++
		if r.Step == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || steps != 3 {
		t.Fatalf("Run = %v after %d steps, want context.Canceled after 3", err, steps)
	}
}

func mustSynthetic(t *testing.T, n, inputs, classes int) data.Dataset {
	t.Helper()
	d, err := data.Synthetic(n, inputs, classes, 1)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// With a seed, the same run gives the same bits.
func TestSameSeedSameBits(t *testing.T) {
	run := func() ([]float32, data.Weights) {
		m := models.Example3()
		tr, err := loop.NewTrainer(m, mustSynthetic(t, 64, int(m.Input[0]), m.Classes()), nil, loop.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		return train(t, tr, 20)
	}
	l1, w1 := run()
	l2, w2 := run()
	for i := range l1 {
		if math.Float32bits(l1[i]) != math.Float32bits(l2[i]) {
			t.Fatalf("step %d: loss %v then %v", i+1, l1[i], l2[i])
		}
	}
	for name, a := range w1 {
		for i, v := range a.Data {
			if math.Float32bits(v) != math.Float32bits(w2[name].Data[i]) {
				t.Fatalf("%s[%d]: %v then %v", name, i, v, w2[name].Data[i])
			}
		}
	}
}

// train runs steps steps and returns each step's loss and the final weights.
func train(t *testing.T, tr *loop.Trainer, steps int) ([]float32, data.Weights) {
	t.Helper()
	var losses []float32
	if err := tr.Run(context.Background(), steps, func(r loop.StepResult) error {
		losses = append(losses, r.Loss)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w, err := tr.Weights()
	if err != nil {
		t.Fatal(err)
	}
	return losses, w
}
