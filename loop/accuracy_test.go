package loop_test

import (
	"math"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// TestAccuracyErrors: outputs and labels that do not fit each other, data
// shorter than their shapes, labels that are not one-hot and NaN or
// infinite outputs are errors naming the example, never a panic or an
// accuracy computed from garbage.
func TestAccuracyErrors(t *testing.T) {
	arr := func(shape []int64, vals ...float32) data.Array { return data.Array{Shape: shape, Data: vals} }
	labels := arr([]int64{3, 2}, 1, 0, 0, 1, 1, 0)
	logits := arr([]int64{3, 2}, 2, 1, 0, 5, 3, -1)
	if acc, err := loop.Accuracy(logits, labels); err != nil || acc != 1 {
		t.Fatalf("accuracy %v, %v; want 1", acc, err)
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name           string
		logits, labels data.Array
		want           string
	}{
		{"shapes differ", arr([]int64{2, 2}, 1, 0, 0, 1), labels, "accuracy: outputs [2 2] and labels [3 2] must both be [N, classes] with N, classes > 0"},
		{"vector outputs", arr([]int64{6}, 1, 0, 0, 1, 1, 0), arr([]int64{6}, 1, 0, 0, 1, 1, 0), "accuracy: outputs [6] and labels [6] must both be [N, classes]"},
		{"no rows", arr([]int64{0, 2}), arr([]int64{0, 2}), "accuracy: outputs [0 2] and labels [0 2] must both be [N, classes] with N, classes > 0"},
		{"labels shorter than their shape", logits, arr([]int64{3, 2}, 1, 0, 0, 1), "accuracy: outputs have 6 values and labels 4; their shape [3 2] needs 6"},
		{"outputs shorter than their shape", arr([]int64{3, 2}, 1, 0), labels, "accuracy: outputs have 2 values and labels 6; their shape [3 2] needs 6"},
		{"labels not one-hot", logits, arr([]int64{3, 2}, 1, 0, 0.5, 0.5, 1, 0), "accuracy: data: y row 1 (counting from 0) is [0.5 0.5], not one-hot"},
		{"NaN output", arr([]int64{3, 2}, 2, 1, 0, 5, nan, -1), labels, "accuracy: the output of example 2 (counting from 0) is NaN at class 0; the model computes NaN or infinity"},
		{"infinite output", arr([]int64{3, 2}, 2, 1, 0, inf, 3, -1), labels, "accuracy: the output of example 1 (counting from 0) is +Inf at class 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acc, err := loop.Accuracy(tc.logits, tc.labels)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want an error containing %q", acc, err, tc.want)
			}
		})
	}
}

// TestEvaluateErrors runs an Evaluator on labels shorter than their shape
// and on weights that make every output NaN.
func TestEvaluateErrors(t *testing.T) {
	m := models.Example1()
	w, err := m.InitialWeights(nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := data.Synthetic(5, 10, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	nanW := data.Weights{}
	for k, a := range w {
		nanW[k] = a
	}
	k := nanW["layer1/weight_fp"]
	k.Data = append([]float32(nil), k.Data...)
	k.Data[0] = float32(math.NaN())
	nanW["layer1/weight_fp"] = k
	short := d
	short.Y.Data = short.Y.Data[:7]
	for _, tc := range []struct {
		name    string
		weights data.Weights
		data    data.Dataset
		want    string
	}{
		{"labels shorter than their shape", w, short, "accuracy: outputs have 10 values and labels 7; their shape [5 2] needs 10"},
		{"NaN outputs", nanW, d, "accuracy: the output of example 0 (counting from 0) is NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := loop.NewEvaluator(models.Model{Input: m.Input, Layers: m.Layers}, tc.weights, nil, oneThread)
			if err != nil {
				t.Fatal(err)
			}
			defer ev.Close()
			acc, err := ev.Evaluate(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want an error containing %q", acc, err, tc.want)
			}
		})
	}
}
