package data

import (
	"fmt"

	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/qat-go/qat/internal/measure"
	"github.com/qat-go/qat/tfgraph"
)

// Dataset is a set of inputs X [N, input...] and labels Y: one-hot
// [N, classes] (Validate), or another form a loss takes (ValidateLabels).
type Dataset struct {
	X, Y Array
}

// Validate checks that the data fit a model with the given per-example
// input shape and class count.
func (d Dataset) Validate(input []int64, classes int) error {
	if len(d.X.Shape) != len(input)+1 || !tfgraph.SameShape(d.X.Shape[1:], input) {
		return fmt.Errorf("data: x has shape %v, the model needs %s", d.X.Shape, batchShape("N", input))
	}
	if len(d.Y.Shape) != 2 || d.Y.Shape[1] != int64(classes) {
		return fmt.Errorf("data: y has shape %v, the model needs [N, %d] (one-hot)", d.Y.Shape, classes)
	}
	return d.check()
}

// check is what Validate checks besides the model's shapes: x [N, ...]
// and y [N, classes] with N > 0, data that fill the shapes, and y
// one-hot. (A NaN in x is left to training, which stops at a NaN loss.)
func (d Dataset) check() error {
	if len(d.X.Shape) < 1 || len(d.Y.Shape) != 2 {
		return fmt.Errorf("data: x has shape %v and y %v; want x [N, input...] and y [N, classes] (one-hot)", d.X.Shape, d.Y.Shape)
	}
	if d.X.Shape[0] != d.Y.Shape[0] || d.X.Shape[0] == 0 {
		return fmt.Errorf("data: x has %d examples and y has %d; need the same, > 0", d.X.Shape[0], d.Y.Shape[0])
	}
	if int64(len(d.X.Data)) != product(d.X.Shape) || int64(len(d.Y.Data)) != product(d.Y.Shape) {
		return fmt.Errorf("data: x has %d values for shape %v and y %d for %v; sizes must match shapes", len(d.X.Data), d.X.Shape, len(d.Y.Data), d.Y.Shape)
	}
	return CheckOneHot(d.Y)
}

// CheckOneHot checks that y is [N, classes] and every row has one 1 and
// the rest 0, naming the first row that does not.
func CheckOneHot(y Array) error {
	if len(y.Shape) != 2 || y.Shape[1] <= 0 || y.Shape[0] < 0 || int64(len(y.Data)) != product(y.Shape) {
		return fmt.Errorf("data: y has shape %v and %d values; want [N, classes] (one-hot)", y.Shape, len(y.Data))
	}
	c := int(y.Shape[1])
	for i := 0; i < int(y.Shape[0]); i++ {
		row := y.Data[i*c : (i+1)*c]
		ones := 0
		for _, v := range row {
			switch v {
			case 1:
				ones++
			case 0:
			default:
				ones = -1
			}
			if ones < 0 {
				break
			}
		}
		if ones != 1 {
			return fmt.Errorf("data: y row %d (counting from 0) is %s, not one-hot: each row needs one 1 and the rest 0", i, clipRow(row))
		}
	}
	return nil
}

// clipRow formats a row of values, its first ten and a count of the rest.
func clipRow(row []float32) string {
	if len(row) <= 10 {
		return fmt.Sprint(row)
	}
	return fmt.Sprintf("%v ... (%d more)]", strings.TrimSuffix(fmt.Sprint(row[:10]), "]"), len(row)-10)
}

func product(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// Synthetic makes the article's dummy data: x ~ N(0, 1) of shape
// [n, inputs] and y one-hot of labels uniform in [0, classes), drawn from a
// PCG seeded with seed.
func Synthetic(n, inputs, classes int, seed uint64) (Dataset, error) {
	if n <= 0 || inputs <= 0 || classes <= 0 {
		return Dataset{}, fmt.Errorf("synthetic data: n=%d inputs=%d classes=%d must all be > 0", n, inputs, classes)
	}
	need := measure.Mul(measure.Mul(int64(n), measure.Add(int64(inputs), int64(classes))), 4)
	if budget, source := MemoryBudget(); need >= budget {
		return Dataset{}, fmt.Errorf("synthetic data: %d examples of %d inputs and %d classes need %s, more than %s",
			n, inputs, classes, measure.Bytes(need), DescribeBudget(budget, source))
	}
	rng := rand.New(rand.NewPCG(seed, 0xda3e39cb94b95bdb))
	x := make([]float32, n*inputs)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]float32, n*classes)
	for i := 0; i < n; i++ {
		y[i*classes+rng.IntN(classes)] = 1
	}
	return Dataset{
		X: Array{Shape: []int64{int64(n), int64(inputs)}, Data: x},
		Y: Array{Shape: []int64{int64(n), int64(classes)}, Data: y},
	}, nil
}

// batchShape formats [first, dims...] as "[N, 28, 28, 1]".
func batchShape(first string, dims []int64) string {
	parts := []string{first}
	for _, d := range dims {
		parts = append(parts, strconv.FormatInt(d, 10))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
