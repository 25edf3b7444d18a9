package layers

import (
	"fmt"
	"slices"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Merger is a layer that takes the outputs of two or more layers. It is
// also a Layer, whose one-input methods fail: a model builds it through
// MergeShape and BuildMerge.
type Merger interface {
	Layer
	// MergeShape checks the input shapes (per example) and returns the
	// output shape.
	MergeShape(in [][]int64) ([]int64, error)
	// BuildMerge adds the layer on xs and returns its output.
	BuildMerge(b *Builder, xs []tf.Output) (tf.Output, error)
}

// Add is Keras's Add: the sum of two or more inputs of one shape, added
// left to right. Its output is quantized (tfmot's registry), unless a ReLU
// takes over.
type Add struct{ Name string }

// Concatenate is Keras's Concatenate: its inputs joined along Axis, which
// counts the batch axis as Keras does (-1, the default, is the last; 0 is
// not allowed). Its output is quantized, and the layers feeding it do not
// quantize theirs (tfmot's ConcatTransform).
type Concatenate struct {
	Name string
	Axis int // -1 if 0
}

// LayerName implements Layer.
func (a Add) LayerName() string { return a.Name }

// OutputShape implements Layer: an Add needs two or more inputs.
func (a Add) OutputShape([]int64) ([]int64, error) { return nil, needInputs(a.Name, "add") }

// Build implements Layer: an Add needs two or more inputs.
func (a Add) Build(*Builder, tf.Output) (tf.Output, error) {
	return tf.Output{}, needInputs(a.Name, "add")
}

// MergeShape implements Merger.
func (a Add) MergeShape(in [][]int64) ([]int64, error) {
	if len(in) < 2 {
		return nil, needInputs(a.Name, "add")
	}
	for i, s := range in[1:] {
		if !slices.Equal(s, in[0]) {
			return nil, fmt.Errorf("layer %s: input %d has shape [batch %v], input 0 [batch %v]; add needs one shape", a.Name, i+1, s, in[0])
		}
	}
	return in[0], nil
}

// BuildMerge implements Merger.
func (a Add) BuildMerge(b *Builder, xs []tf.Output) (tf.Output, error) {
	if _, err := mergeShapes(a, xs); err != nil {
		return tf.Output{}, err
	}
	g := b.Graph()
	s := g.Scope(a.Name)
	y := xs[0]
	for i, x := range xs[1:] {
		name := "add"
		if i > 0 {
			name = fmt.Sprintf("add_%d", i)
		}
		y = s.AddV2(name, y, x)
	}
	y = b.output(s, a.Name, y)
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", a.Name, err)
	}
	return y, nil
}

// LayerName implements Layer.
func (c Concatenate) LayerName() string { return c.Name }

// OutputShape implements Layer: a Concatenate needs two or more inputs.
func (c Concatenate) OutputShape([]int64) ([]int64, error) {
	return nil, needInputs(c.Name, "concatenate")
}

// Build implements Layer: a Concatenate needs two or more inputs.
func (c Concatenate) Build(*Builder, tf.Output) (tf.Output, error) {
	return tf.Output{}, needInputs(c.Name, "concatenate")
}

// axis returns the axis among the per-example axes of rank-long inputs.
func (c Concatenate) axis(rank int) (int, error) {
	a := c.Axis
	if a == 0 {
		a = -1
	}
	if a < 0 {
		a += rank + 1
	}
	if a < 1 || a > rank {
		return 0, fmt.Errorf("layer %s: axis %d is outside the input's axes (batch and %d more; axis 0, the batch, cannot be joined)", c.Name, c.Axis, rank)
	}
	return a - 1, nil
}

// MergeShape implements Merger.
func (c Concatenate) MergeShape(in [][]int64) ([]int64, error) {
	if len(in) < 2 {
		return nil, needInputs(c.Name, "concatenate")
	}
	ax, err := c.axis(len(in[0]))
	if err != nil {
		return nil, err
	}
	out := slices.Clone(in[0])
	for i, s := range in[1:] {
		same := len(s) == len(in[0])
		for d := 0; same && d < len(s); d++ {
			same = d == ax || s[d] == in[0][d]
		}
		if !same {
			return nil, fmt.Errorf("layer %s: input %d has shape [batch %v], input 0 [batch %v]; they may differ only on axis %d", c.Name, i+1, s, in[0], ax+1)
		}
		out[ax] += s[ax]
	}
	return out, nil
}

// BuildMerge implements Merger.
func (c Concatenate) BuildMerge(b *Builder, xs []tf.Output) (tf.Output, error) {
	in, err := mergeShapes(c, xs)
	if err != nil {
		return tf.Output{}, err
	}
	ax, _ := c.axis(len(in[0]))
	g := b.Graph()
	s := g.Scope(c.Name)
	y := s.Op1("ConcatV2", "concat", []any{xs, s.Const("axis", int32(ax+1))}, nil)
	y = b.output(s, c.Name, y)
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", c.Name, err)
	}
	return y, nil
}

func needInputs(name, typ string) error {
	return fmt.Errorf("layer %s: %s takes two or more inputs; name them (inputs: [a, b])", name, typ)
}

// mergeShapes checks xs against m's MergeShape and returns the
// per-example shapes.
func mergeShapes(m Merger, xs []tf.Output) ([][]int64, error) {
	in := make([][]int64, len(xs))
	for i, x := range xs {
		dims, err := tfgraph.ShapeOf(x)
		if err != nil {
			return nil, fmt.Errorf("layer %s: input %d: %w", m.LayerName(), i, err)
		}
		if len(dims) < 2 {
			return nil, fmt.Errorf("layer %s: input %d has shape %v, want [batch, ...]", m.LayerName(), i, dims)
		}
		in[i] = dims[1:]
	}
	if _, err := m.MergeShape(in); err != nil {
		return nil, err
	}
	return in, nil
}
