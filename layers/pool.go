package layers

import (
	"fmt"

	"github.com/qat-go/qat/internal/measure"
	tf "github.com/wamuir/graft/tensorflow"
)

// MaxPool is Keras's MaxPooling2D. Its output keeps its input's
// quantization (no quantizer), as in tfmot.
type MaxPool struct {
	Name    string
	Size    [2]int // default 2, 2
	Strides [2]int // default Size
	Padding string // "VALID" (default) or "SAME"
}

// AvgPool is Keras's AveragePooling2D; averaging leaves the grid, so its
// output is quantized (as tfmot does).
type AvgPool MaxPool

func (p MaxPool) window() ([2]int, [2]int) {
	size := p.Size
	if size == [2]int{} {
		size = [2]int{2, 2}
	}
	st := p.Strides
	if st == [2]int{} {
		st = size
	}
	return size, st
}

// LayerName implements Layer.
func (p MaxPool) LayerName() string { return p.Name }

// OutputShape implements Layer.
func (p MaxPool) OutputShape(in []int64) ([]int64, error) {
	size, st := p.window()
	if len(in) != 3 {
		return nil, fmt.Errorf("layer %s: input must be [batch, height, width, channels], got [batch %v]", p.Name, in)
	}
	return windowShape(p.Name, "size", in, size, st, p.Padding, in[2])
}

// Build implements Layer.
func (p MaxPool) Build(b *Builder, x tf.Output) (tf.Output, error) {
	return pool(b, p, "MaxPool", x)
}

// LayerName implements Layer.
func (p AvgPool) LayerName() string { return p.Name }

// OutputShape implements Layer.
func (p AvgPool) OutputShape(in []int64) ([]int64, error) { return MaxPool(p).OutputShape(in) }

// Build implements Layer.
func (p AvgPool) Build(b *Builder, x tf.Output) (tf.Output, error) {
	return pool(b, MaxPool(p), "AvgPool", x)
}

func pool(b *Builder, p MaxPool, op string, x tf.Output) (tf.Output, error) {
	if _, err := inputShape(p, x); err != nil {
		return tf.Output{}, err
	}
	size, st := p.window()
	g := b.Graph()
	s := g.Scope(p.Name)
	ksize := []int64{1, int64(size[0]), int64(size[1]), 1}
	var y tf.Output
	if op == "MaxPool" {
		y = s.MaxPool("MaxPool", x, ksize, strides4(st), padding(p.Padding))
	} else {
		y = s.AvgPool("AvgPool", x, ksize, strides4(st), padding(p.Padding))
		y = b.output(s, p.Name, y)
	}
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", p.Name, err)
	}
	return y, nil
}

// Flatten reshapes [batch, d1, d2, ...] to [batch, d1*d2*...].
type Flatten struct{ Name string }

// LayerName implements Layer.
func (f Flatten) LayerName() string { return f.Name }

// OutputShape implements Layer.
func (f Flatten) OutputShape(in []int64) ([]int64, error) {
	for _, d := range in {
		if d <= 0 {
			return nil, fmt.Errorf("layer %s: input shape [batch %v] is not fully known", f.Name, in)
		}
	}
	n, err := measure.Elements(in)
	if err != nil {
		return nil, fmt.Errorf("layer %s: input %w", f.Name, err)
	}
	return []int64{n}, nil
}

// Build implements Layer.
func (f Flatten) Build(b *Builder, x tf.Output) (tf.Output, error) {
	in, err := inputShape(f, x)
	if err != nil {
		return tf.Output{}, err
	}
	out, _ := f.OutputShape(in)
	g := b.Graph()
	y := g.Scope(f.Name).Reshape("Reshape", x, []int64{-1, out[0]})
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", f.Name, err)
	}
	return y, nil
}

// ReLU is Keras's ReLU layer (max(x, 0), or min(max(x, 0), 6) with Max6):
// its output is quantized, and a Weighted layer right before it leaves its
// own output to it.
type ReLU struct {
	Name string
	Max6 bool
}

// LayerName implements Layer.
func (r ReLU) LayerName() string { return r.Name }

// OutputShape implements Layer.
func (r ReLU) OutputShape(in []int64) ([]int64, error) { return in, nil }

// Build implements Layer.
func (r ReLU) Build(b *Builder, x tf.Output) (tf.Output, error) {
	if _, err := inputShape(r, x); err != nil {
		return tf.Output{}, err
	}
	g := b.Graph()
	s := g.Scope(r.Name)
	act := ReLUAct
	if r.Max6 {
		act = ReLU6Act
	}
	y := b.output(s, r.Name, activate(s, act, x))
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", r.Name, err)
	}
	return y, nil
}
