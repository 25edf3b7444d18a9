package models

import (
	"fmt"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
)

func TestLossValidate(t *testing.T) {
	for _, c := range []struct {
		loss   Loss
		labels data.Labels
		want   string
	}{
		{Loss{}, data.OneHot, ""},
		{Loss{Name: "categorical_crossentropy", LabelSmoothing: 0.1}, data.OneHot, ""},
		{Loss{Name: "Sparse_Categorical_Crossentropy"}, data.ClassIDs, ""},
		{Loss{Name: "mse"}, data.Targets, ""},
		{Loss{Name: "mean_squared_error"}, data.Targets, ""},
		{Loss{Name: "binary_crossentropy", LabelSmoothing: 1}, data.Probabilities, ""},
		{Loss{Name: "sparse_categorical_crossentropy", LabelSmoothing: 0.1}, data.ClassIDs, "sparse_categorical_crossentropy takes no label_smoothing; Keras's SparseCategoricalCrossentropy has none either"},
		{Loss{Name: "mse", LabelSmoothing: 0.1}, data.Targets, "mean_squared_error takes no label_smoothing"},
		{Loss{Name: "categorical_crossentropy", LabelSmoothing: -0.1}, data.OneHot, "label_smoothing -0.1 must be in [0, 1]"},
		{Loss{Name: "binary_crossentropy", LabelSmoothing: 1.5}, data.Probabilities, "label_smoothing 1.5 must be in [0, 1]"},
		{Loss{Name: "hinge"}, data.OneHot, `loss: unknown name "hinge"`},
	} {
		t.Run(c.loss.String(), func(t *testing.T) {
			err := c.loss.Validate()
			if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("Validate() = %v, want %q", err, c.want)
			}
			if err == nil && c.loss.Labels() != c.labels {
				t.Fatalf("Labels() = %v, want %v", c.loss.Labels(), c.labels)
			}
		})
	}
}

// A loss says which labels it trains on and their shape for a batch.
func ExampleLoss() {
	for _, l := range []Loss{{}, {Name: "sparse_categorical_crossentropy"}, {Name: "binary_crossentropy", LabelSmoothing: 0.1}} {
		fmt.Println(l, "|", l.Labels(), l.Labels().Shape(32, 10))
	}
	// Output:
	// categorical_crossentropy | one-hot [32 10]
	// sparse_categorical_crossentropy | class ids [32]
	// binary_crossentropy (label_smoothing 0.1) | probabilities [32 10]
}
