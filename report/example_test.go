package report_test

import (
	"fmt"
	"os"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/report"
)

// Sample turns a trainer's range variables into ranges.csv rows: one per
// channel for a per-channel quantizer, one with an empty channel cell for
// a per-tensor one.
func ExampleSample() {
	ranges := data.Weights{
		"c1/kernel_min":          {Shape: []int64{2}, Data: []float32{-0.5, -0.25}},
		"c1/kernel_max":          {Shape: []int64{2}, Data: []float32{0.5, 0.25}},
		"c1/post_activation_min": {Shape: []int64{}, Data: []float32{0}},
		"c1/post_activation_max": {Shape: []int64{}, Data: []float32{5.75}},
	}
	rows, err := report.Sample(10, ranges)
	if err != nil {
		panic(err)
	}
	if err := report.EncodeRanges(os.Stdout, rows); err != nil {
		panic(err)
	}
	// Output:
	// step,quantizer,channel,min,max
	// 10,c1/kernel,0,-0.5,0.5
	// 10,c1/kernel,1,-0.25,0.25
	// 10,c1/post_activation,,0,5.75
}

// NewGrid gives a quantizer's levels as TensorFlow's FakeQuant kernels
// use them, and Usage counts how many of them a tensor's values take.
func ExampleNewGrid() {
	// tfmot's 8-bit weights: symmetric narrow range, here per tensor.
	g, err := report.NewGrid([]float32{-1}, []float32{1}, 8, true, false)
	if err != nil {
		panic(err)
	}
	u, err := g.Usage([]float32{-1, -0.5, 0, 0.001, 0.5, 2})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d levels, step %.6f; %d used, %d clipped\n", g.Levels(), g.Scale[0], u.Used, u.Clipped)
	fmt.Println(g.Code(0, 0), g.Value(g.Code(0.5, 0), 0))
	// Output:
	// 255 levels, step 0.007874; 5 used, 1 clipped
	// 127 0.503937
}
