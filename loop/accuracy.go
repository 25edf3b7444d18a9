package loop

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/data"
)

// LabelAccuracy is the accuracy Keras reports for each form of labels:
// for one-hot labels and class ids, the fraction of rows whose argmax
// matches (Accuracy); for probabilities (binary cross-entropy), Keras's
// BinaryAccuracy at threshold 0 on the logits, the fraction of outputs
// where (logit > 0) equals the label. Targets (mean squared error) have
// no accuracy: that is an error.
func LabelAccuracy(logits, labels data.Array, form data.Labels) (float64, error) {
	switch form {
	case data.OneHot, data.ClassIDs:
		return Accuracy(logits, labels)
	case data.Probabilities:
		return BinaryAccuracy(logits, labels)
	}
	return 0, fmt.Errorf("accuracy: not defined for %s labels (mean squared error); use the loss", form)
}

// BinaryAccuracy is Keras's BinaryAccuracy(threshold=0) on logits: the
// fraction of elements where the label equals 1 if the logit is > 0 and
// 0 otherwise (a label strictly between 0 and 1 never counts).
func BinaryAccuracy(logits, labels data.Array) (float64, error) {
	if err := sameSize(logits, labels); err != nil {
		return 0, err
	}
	right := 0
	for i, v := range logits.Data {
		if err := finite(v, i, int(logits.Shape[1])); err != nil {
			return 0, err
		}
		pred := float32(0)
		if v > 0 {
			pred = 1
		}
		if labels.Data[i] == pred {
			right++
		}
	}
	return float64(right) / float64(len(logits.Data)), nil
}

// sparseAccuracy is Accuracy against class ids [N].
func sparseAccuracy(logits, ids data.Array) (float64, error) {
	if len(logits.Shape) != 2 || logits.Shape[0] <= 0 || logits.Shape[1] <= 0 || ids.Shape[0] != logits.Shape[0] {
		return 0, fmt.Errorf("accuracy: outputs %v and class ids %v must be [N, classes] and [N] with N, classes > 0", logits.Shape, ids.Shape)
	}
	n, c := int(logits.Shape[0]), int(logits.Shape[1])
	if len(logits.Data) != n*c || len(ids.Data) != n {
		return 0, fmt.Errorf("accuracy: outputs have %d values and class ids %d; shapes %v and %v", len(logits.Data), len(ids.Data), logits.Shape, ids.Shape)
	}
	if err := data.CheckLabels(ids, c, data.ClassIDs); err != nil {
		return 0, fmt.Errorf("accuracy: %w", err)
	}
	right := 0
	for i := 0; i < n; i++ {
		row := logits.Data[i*c : (i+1)*c]
		for j, v := range row {
			if err := finite(v, i*c+j, c); err != nil {
				return 0, err
			}
		}
		if argmax(row) == int(ids.Data[i]) {
			right++
		}
	}
	return float64(right) / float64(n), nil
}

// sameSize checks that outputs and labels are both [N, outputs] and fill
// their shapes.
func sameSize(logits, labels data.Array) error {
	if len(logits.Shape) != 2 || len(labels.Shape) != 2 || logits.Shape[0] <= 0 || logits.Shape[1] <= 0 ||
		logits.Shape[0] != labels.Shape[0] || logits.Shape[1] != labels.Shape[1] {
		return fmt.Errorf("accuracy: outputs %v and labels %v must both be [N, outputs] with N, outputs > 0", logits.Shape, labels.Shape)
	}
	if n := logits.Shape[0] * logits.Shape[1]; int64(len(logits.Data)) != n || int64(len(labels.Data)) != n {
		return fmt.Errorf("accuracy: outputs have %d values and labels %d; their shape %v needs %d", len(logits.Data), len(labels.Data), logits.Shape, n)
	}
	return nil
}

// finite reports an output v at flat index i (of rows of c) that is NaN
// or infinite.
func finite(v float32, i, c int) error {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return fmt.Errorf("accuracy: the output of example %d (counting from 0) is %v at class %d; the model computes NaN or infinity", i/c, v, i%c)
	}
	return nil
}
