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
