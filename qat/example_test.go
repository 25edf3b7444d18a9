package qat_test

import (
	"fmt"

	"github.com/qat-go/qat/qat"
)

// The article's weight range [-0.1, 0.1] at 8 bits: TensorFlow nudges it so
// that 0 lies on the grid.
func ExampleNudge() {
	q := qat.Symmetric(0.1)
	if err := q.Validate(); err != nil {
		fmt.Println(err)
	}
	lo, hi, scale := qat.Nudge(q.Min, q.Max, q.NumBits, q.NarrowRange)
	fmt.Printf("[%.6f, %.6f] step %.6f\n", lo, hi, scale)
	fmt.Println(qat.FixedRange{Min: 1, Max: -1, NumBits: 17}.Validate())
	// Output:
	// [-0.100392, 0.099608] step 0.000784
	// num_bits 17 is outside 2..16
}

// The grid of an activation range [-1, 3] at 8 bits: 0.0 falls on
// integer 64 of 0..255 (int8 zero point 64 - 128 = -64).
func ExampleNudgeGrid() {
	g := qat.NudgeGrid(-1, 3, 8, false)
	fmt.Printf("scale %.6f, zero point %d in %d..%d, range [%.6f, %.6f]\n", g.Scale, g.ZeroPoint, g.QuantMin, g.QuantMax, g.Min, g.Max)
	// Output:
	// scale 0.015686, zero point 64 in 0..255, range [-1.003922, 2.996078]
}

// tfmot's default 8-bit scheme with one layer in 4 bits and a quantization
// delay: the policy each layer gets.
func ExampleScheme() {
	s := qat.Default8Bit()
	s.Layers = map[string]qat.Policy{"c2": {WeightBits: 4, ActivationBits: 8}}
	s.Schedule = qat.Schedule{QuantDelay: 1000, FreezeRangesAfter: 5000}
	if err := s.Validate(); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%+v\n", s.Weights("c1", true))
	fmt.Printf("%+v\n", s.Weights("c2", true))
	fmt.Printf("%+v\n", s.Activations("c2"))
	fmt.Printf("%+v\n", s.Input())
	// Output:
	// {NumBits:8 PerChannel:true Symmetric:true NarrowRange:true}
	// {NumBits:4 PerChannel:true Symmetric:true NarrowRange:true}
	// {NumBits:8 PerChannel:false Symmetric:false NarrowRange:false Decay:0.999}
	// {NumBits:8 Symmetric:false NarrowRange:false}
}
