package data

import (
	"strings"
	"testing"
)

func TestValidateLabels(t *testing.T) {
	x := Array{Shape: []int64{3, 2}, Data: make([]float32, 6)}
	ids := func(v ...float32) Array { return Array{Shape: []int64{int64(len(v))}, Data: v} }
	rows := func(v ...float32) Array { return Array{Shape: []int64{3, 2}, Data: v} }
	for _, c := range []struct {
		name   string
		y      Array
		labels Labels
		want   string
	}{
		{"class ids", ids(0, 2, 1), ClassIDs, ""},
		{"id too big", ids(0, 3, 1), ClassIDs, "y row 1 (counting from 0) is 3; class ids must be integers in [0, 3)"},
		{"negative id", ids(-1, 0, 1), ClassIDs, "y row 0 (counting from 0) is -1"},
		{"fractional id", ids(0, 1, 1.5), ClassIDs, "y row 2 (counting from 0) is 1.5"},
		{"one-hot for sparse", Array{Shape: []int64{3, 3}, Data: make([]float32, 9)}, ClassIDs, "y has shape [3 3], the model and loss need [N] (class ids)"},
		{"ids for one-hot", ids(0, 1, 2), OneHot, "y has shape [3], the model needs [N, 3] (one-hot)"},
		{"ids count", ids(0, 1), ClassIDs, "x has 3 examples and y has 2"},
		{"targets", rows(1.5, -2, 0, 3, 7, 1e6), Targets, ""},
		{"NaN target", rows(1, 2, 3, float32(nan()), 5, 6), Targets, "y row 1 (counting from 0), column 1, is NaN; targets must be finite"},
		{"targets shape", Array{Shape: []int64{3, 3}, Data: make([]float32, 9)}, Targets, "the model and loss need [N, 2] (targets)"},
		{"probabilities", rows(0, 1, 0.25, 1, 0, 0), Probabilities, ""},
		{"probability above 1", rows(0, 1, 0, 2, 0, 0), Probabilities, "y row 1 (counting from 0), column 1, is 2; binary cross-entropy labels must be in [0, 1]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			classes := 3
			if c.labels == Targets || c.labels == Probabilities {
				classes = 2
			}
			err := Dataset{X: x, Y: c.y}.ValidateLabels([]int64{2}, classes, c.labels)
			if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("ValidateLabels = %v, want %q", err, c.want)
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }
