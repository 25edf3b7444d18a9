package data

import (
	"fmt"
	"sort"

	"github.com/qat-go/qat/internal/measure"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Array is a float32 array with its shape, as stored in .npz files.
type Array struct {
	Shape []int64
	Data  []float32
}

// Weights maps variable names (e.g. "layer1/weight_fp") to values.
type Weights map[string]Array

// Names returns the keys in sorted order.
func (w Weights) Names() []string {
	out := make([]string, 0, len(w))
	for k := range w {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tensor returns the value of variable name as a tensor of the given shape.
func (w Weights) tensor(name string, shape []int64) (*tf.Tensor, error) {
	a, ok := w[name]
	if !ok {
		return nil, fmt.Errorf("no initial value for %s", name)
	}
	if !tfgraph.SameShape(a.Shape, shape) {
		return nil, fmt.Errorf("initial value for %s has shape %v, the model needs %v", name, a.Shape, shape)
	}
	t, err := tfgraph.NewTensor(shape, a.Data)
	if err != nil {
		return nil, fmt.Errorf("initial value for %s: %w", name, err)
	}
	return t, nil
}

// Covers checks that w gives a value for every variable of all, naming
// those it lacks.
func (w Weights) Covers(all Weights) error {
	var missing []string
	for _, name := range all.Names() {
		if _, ok := w[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("initial weights lack %d of the model's %d variables: %s; give every variable (qat train writes initial_weights.npz in this form)",
		len(missing), len(all), measure.List(missing))
}
