package data

import (
	"math"
	"strings"
	"testing"
)

func TestDatasetValidate(t *testing.T) {
	good, err := Synthetic(4, 3, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Validate([]int64{3}, 5); err != nil {
		t.Fatal(err)
	}
	with := func(f func(d *Dataset)) Dataset {
		d := Dataset{X: Array{Shape: good.X.Shape, Data: append([]float32(nil), good.X.Data...)},
			Y: Array{Shape: good.Y.Shape, Data: append([]float32(nil), good.Y.Data...)}}
		f(&d)
		return d
	}
	nan := float32(math.NaN())
	wide := Array{Shape: []int64{1, 12}, Data: make([]float32, 12)}
	wide.Data[3], wide.Data[11] = 1, 1
	for _, tc := range []struct {
		name    string
		d       Dataset
		input   []int64
		classes int
		want    string
	}{
		{"x width", good, []int64{4}, 5, "data: x has shape [4 3], the model needs [N, 4]"},
		{"y width", good, []int64{3}, 6, "data: y has shape [4 5], the model needs [N, 6] (one-hot)"},
		{"counts", with(func(d *Dataset) { d.Y = Array{Shape: []int64{3, 5}, Data: d.Y.Data[:15]} }), []int64{3}, 5, "data: x has 4 examples and y has 3; need the same, > 0"},
		{"no examples", Dataset{X: Array{Shape: []int64{0, 3}}, Y: Array{Shape: []int64{0, 5}}}, []int64{3}, 5, "data: x has 0 examples and y has 0; need the same, > 0"},
		{"y shorter than its shape", with(func(d *Dataset) { d.Y.Data = d.Y.Data[:19] }), []int64{3}, 5, "data: x has 12 values for shape [4 3] and y 19 for [4 5]; sizes must match shapes"},
		{"x longer than its shape", with(func(d *Dataset) { d.X.Data = append(d.X.Data, 0) }), []int64{3}, 5, "data: x has 13 values for shape [4 3] and y 20 for [4 5]"},
		{"y row of zeros", with(func(d *Dataset) { clear(d.Y.Data[10:15]) }), []int64{3}, 5, "data: y row 2 (counting from 0) is [0 0 0 0 0], not one-hot: each row needs one 1 and the rest 0"},
		{"y row with two ones", with(func(d *Dataset) { d.Y.Data[5], d.Y.Data[6] = 1, 1 }), []int64{3}, 5, "data: y row 1 (counting from 0) is [1 1"},
		{"y soft labels", with(func(d *Dataset) { copy(d.Y.Data[15:], []float32{0.2, 0.2, 0.2, 0.2, 0.2}) }), []int64{3}, 5, "data: y row 3 (counting from 0) is [0.2 0.2 0.2 0.2 0.2], not one-hot"},
		{"y class index instead", with(func(d *Dataset) { copy(d.Y.Data[:5], []float32{3, 0, 0, 0, 0}) }), []int64{3}, 5, "data: y row 0 (counting from 0) is [3 0 0 0 0], not one-hot"},
		{"y NaN", with(func(d *Dataset) { d.Y.Data[0] = nan }), []int64{3}, 5, "data: y row 0 (counting from 0) is [NaN"},
		{"y long row clipped", Dataset{X: Array{Shape: []int64{1, 3}, Data: make([]float32, 3)}, Y: wide}, []int64{3}, 12, "data: y row 0 (counting from 0) is [0 0 0 1 0 0 0 0 0 0 ... (2 more)], not one-hot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Validate(tc.input, tc.classes)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if err := CheckOneHot(Array{Shape: []int64{2}, Data: []float32{0, 1}}); err == nil || !strings.Contains(err.Error(), "data: y has shape [2] and 2 values; want [N, classes] (one-hot)") {
		t.Errorf("CheckOneHot of a vector: %v", err)
	}
}
