package layers

import (
	"fmt"

	"github.com/qat-go/qat/internal/measure"
	tf "github.com/wamuir/graft/tensorflow"
)

// GlobalAvgPool is Keras's GlobalAveragePooling2D: the mean over height
// and width, [h, w, c] -> [c]. Its output is quantized (tfmot's registry).
type GlobalAvgPool struct{ Name string }

// ZeroPadding2D is Keras's ZeroPadding2D: zero rows above and below, zero
// columns left and right of each [h, w, c] example. Its output keeps its
// input's quantization (zeros are on every grid).
type ZeroPadding2D struct {
	Name string
	// Pad is top, bottom, left, right.
	Pad [4]int
}

// Reshape is Keras's Reshape to Shape (per example; one -1 is inferred).
// Its output keeps its input's quantization.
type Reshape struct {
	Name  string
	Shape []int64
}

// LayerName implements Layer.
func (p GlobalAvgPool) LayerName() string { return p.Name }

// OutputShape implements Layer.
func (p GlobalAvgPool) OutputShape(in []int64) ([]int64, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("layer %s: input must be [batch, height, width, channels], got [batch %v]", p.Name, in)
	}
	return []int64{in[2]}, nil
}

// Build implements Layer.
func (p GlobalAvgPool) Build(b *Builder, x tf.Output) (tf.Output, error) {
	if _, err := inputShape(p, x); err != nil {
		return tf.Output{}, err
	}
	g := b.Graph()
	s := g.Scope(p.Name)
	y := b.output(s, p.Name, s.Mean("Mean", x, []int32{1, 2}, false))
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", p.Name, err)
	}
	return y, nil
}

// LayerName implements Layer.
func (z ZeroPadding2D) LayerName() string { return z.Name }

// OutputShape implements Layer.
func (z ZeroPadding2D) OutputShape(in []int64) ([]int64, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("layer %s: input must be [batch, height, width, channels], got [batch %v]", z.Name, in)
	}
	for _, p := range z.Pad {
		if p < 0 {
			return nil, fmt.Errorf("layer %s: padding %v must be >= 0", z.Name, z.Pad)
		}
	}
	return []int64{
		measure.Add(in[0], int64(z.Pad[0]+z.Pad[1])),
		measure.Add(in[1], int64(z.Pad[2]+z.Pad[3])),
		in[2],
	}, nil
}

// Build implements Layer.
func (z ZeroPadding2D) Build(b *Builder, x tf.Output) (tf.Output, error) {
	if _, err := inputShape(z, x); err != nil {
		return tf.Output{}, err
	}
	g := b.Graph()
	s := g.Scope(z.Name)
	p := z.Pad
	pads := s.Const("paddings", [][]int32{{0, 0}, {int32(p[0]), int32(p[1])}, {int32(p[2]), int32(p[3])}, {0, 0}})
	// The Identity keeps a Conv2D after the padding from taking Pad in:
	// TensorFlow's oneDNN graph pass would run the two as one kernel,
	// whose sums differ from eager Keras's in the last bit.
	y := s.Identity("Identity", s.Op1("Pad", "Pad", []any{x, pads}, nil))
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", z.Name, err)
	}
	return y, nil
}

// LayerName implements Layer.
func (r Reshape) LayerName() string { return r.Name }

// OutputShape implements Layer.
func (r Reshape) OutputShape(in []int64) ([]int64, error) {
	n, err := measure.Elements(in)
	if err != nil {
		return nil, fmt.Errorf("layer %s: input %w", r.Name, err)
	}
	if len(r.Shape) == 0 {
		return nil, fmt.Errorf("layer %s: no target shape (e.g. shape: [7, 7, 16])", r.Name)
	}
	out, known, free := make([]int64, len(r.Shape)), int64(1), -1
	for i, d := range r.Shape {
		switch {
		case d == -1 && free < 0:
			free = i
			continue
		case d == -1:
			return nil, fmt.Errorf("layer %s: shape %v has more than one -1", r.Name, r.Shape)
		case d <= 0:
			return nil, fmt.Errorf("layer %s: shape %v: every dimension must be > 0 (or one -1)", r.Name, r.Shape)
		}
		out[i] = d
		known = measure.Mul(known, d)
	}
	if free >= 0 && known > 0 && n%known == 0 {
		out[free] = n / known
		known = n
	}
	if known != n {
		return nil, fmt.Errorf("layer %s: cannot reshape [batch %v] (%d values) to [batch %v]", r.Name, in, n, r.Shape)
	}
	return out, nil
}

// Build implements Layer.
func (r Reshape) Build(b *Builder, x tf.Output) (tf.Output, error) {
	in, err := inputShape(r, x)
	if err != nil {
		return tf.Output{}, err
	}
	out, _ := r.OutputShape(in)
	g := b.Graph()
	y := g.Scope(r.Name).Reshape("Reshape", x, append([]int64{-1}, out...))
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", r.Name, err)
	}
	return y, nil
}
