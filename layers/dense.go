package layers

import (
	"fmt"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Dense is Keras's Dense layer, y = act(x @ kernel + bias), quantized as
// tfmot does: the kernel by the scheme's weight quantizer (per tensor by
// default), the output after the activation by its activation quantizer.
// Variables: "<name>/kernel" [in, units], "<name>/bias" [units].
type Dense struct {
	Name       string
	Units      int
	Activation string // "", "linear", "relu" or "relu6"
}

// LayerName implements Layer.
func (d Dense) LayerName() string { return d.Name }

func (d Dense) HasChannels() bool { return true }

// OutputShape implements Layer: [in] -> [units].
func (d Dense) OutputShape(in []int64) ([]int64, error) {
	if d.Units <= 0 {
		return nil, fmt.Errorf("layer %s: units %d must be > 0", d.Name, d.Units)
	}
	if err := CheckActivation(d.Name, d.Activation); err != nil {
		return nil, err
	}
	if len(in) != 1 || in[0] <= 0 {
		return nil, fmt.Errorf("layer %s: dense input must be [batch, features], got [batch %v] (add a flatten layer)", d.Name, in)
	}
	return []int64{int64(d.Units)}, nil
}

// Build implements Layer.
func (d Dense) Build(b *Builder, x tf.Output) (tf.Output, error) {
	in, err := inputShape(d, x)
	if err != nil {
		return tf.Output{}, err
	}
	g := b.Graph()
	s := g.Scope(d.Name)
	k := b.variable(s, "kernel", []int64{in[0], int64(d.Units)}, tfgraph.GlorotUniform{}, true)
	bias := b.variable(s, "bias", []int64{int64(d.Units)}, tfgraph.Zeros{}, true)
	k = b.weights(s, d.Name, false, k)
	y := s.BiasAdd("BiasAdd", s.MatMul("MatMul", x, k, false, false), bias)
	y = b.output(s, d.Name, activate(s, d.Activation, y))
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", d.Name, err)
	}
	return y, nil
}
