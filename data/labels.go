package data

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/tfgraph"
)

// Labels is the form a data set's y takes, which the loss decides.
type Labels int

const (
	// OneHot labels are y [N, classes], each row one 1 and the rest 0
	// (categorical cross-entropy).
	OneHot Labels = iota
	// ClassIDs are y [N], each an integer class id in
	// [0, classes) (sparse categorical cross-entropy).
	ClassIDs
	// Targets are y [N, outputs] of any finite values (mean squared error).
	Targets
	// Probabilities are y [N, outputs] of values in [0, 1] (binary
	// cross-entropy; 0 and 1 for hard labels).
	Probabilities
)

// String names the form as the errors do.
func (l Labels) String() string {
	switch l {
	case OneHot:
		return "one-hot"
	case ClassIDs:
		return "class ids"
	case Targets:
		return "targets"
	case Probabilities:
		return "probabilities"
	}
	return fmt.Sprintf("Labels(%d)", int(l))
}

// Shape is the shape y of n examples takes for a model with the given
// number of outputs: [n] for class ids, else [n, outputs].
func (l Labels) Shape(n int64, outputs int) []int64 {
	if l == ClassIDs {
		return []int64{n}
	}
	return []int64{n, int64(outputs)}
}

// ValidateLabels checks that the data fit a model with the given
// per-example input shape and number of outputs (classes), with y in the
// form labels.
func (d Dataset) ValidateLabels(input []int64, outputs int, labels Labels) error {
	if labels == OneHot {
		return d.Validate(input, outputs)
	}
	if len(d.X.Shape) != len(input)+1 || !tfgraph.SameShape(d.X.Shape[1:], input) {
		return fmt.Errorf("data: x has shape %v, the model needs %s", d.X.Shape, batchShape("N", input))
	}
	if want := labels.Shape(-1, outputs); len(d.Y.Shape) != len(want) || (len(want) == 2 && d.Y.Shape[1] != want[1]) {
		return fmt.Errorf("data: y has shape %v, the model and loss need %s (%s)", d.Y.Shape, batchShape("N", want[1:]), labels)
	}
	if d.X.Shape[0] != d.Y.Shape[0] || d.X.Shape[0] == 0 {
		return fmt.Errorf("data: x has %d examples and y has %d; need the same, > 0", d.X.Shape[0], d.Y.Shape[0])
	}
	if int64(len(d.X.Data)) != product(d.X.Shape) || int64(len(d.Y.Data)) != product(d.Y.Shape) {
		return fmt.Errorf("data: x has %d values for shape %v and y %d for %v; sizes must match shapes", len(d.X.Data), d.X.Shape, len(d.Y.Data), d.Y.Shape)
	}
	return CheckLabels(d.Y, outputs, labels)
}

// CheckLabels checks the values of y (already of the form's shape) and
// names the first bad row: one-hot rows, integer class ids in
// [0, classes), finite targets, or probabilities in [0, 1].
func CheckLabels(y Array, classes int, labels Labels) error {
	if labels == OneHot {
		return CheckOneHot(y)
	}
	row := 1
	if len(y.Shape) == 2 {
		row = int(y.Shape[1])
	}
	for i, v := range y.Data {
		f := float64(v)
		var bad string
		switch labels {
		case ClassIDs:
			if f != math.Trunc(f) || f < 0 || f >= float64(classes) {
				bad = fmt.Sprintf("is %v; class ids must be integers in [0, %d)", v, classes)
			}
		case Targets:
			if math.IsNaN(f) || math.IsInf(f, 0) {
				bad = fmt.Sprintf("is %v; targets must be finite", v)
			}
		case Probabilities:
			if !(f >= 0 && f <= 1) {
				bad = fmt.Sprintf("is %v; binary cross-entropy labels must be in [0, 1]", v)
			}
		default:
			return fmt.Errorf("data: unknown label form %v", labels)
		}
		if bad != "" {
			at := fmt.Sprintf("y row %d (counting from 0)", i/row)
			if len(y.Shape) == 2 {
				at += fmt.Sprintf(", column %d,", i%row)
			}
			return fmt.Errorf("data: %s %s", at, bad)
		}
	}
	return nil
}

// ClassIDsOf returns the class ids [N] of one-hot labels y [N, classes]
// (the index of each row's largest value).
func ClassIDsOf(y Array) Array {
	n, c := int(y.Shape[0]), int(y.Shape[1])
	ids := make([]float32, n)
	for i := range ids {
		row := y.Data[i*c : (i+1)*c]
		for j, v := range row {
			if v > row[int(ids[i])] {
				ids[i] = float32(j)
			}
		}
	}
	return Array{Shape: []int64{int64(n)}, Data: ids}
}
