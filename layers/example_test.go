package layers_test

import (
	"fmt"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// scale is a layer of your own: y = x * gamma with a learnable gamma per
// feature, its output quantized by the scheme like any layer's.
type scale struct{ name string }

func (s scale) LayerName() string                       { return s.name }
func (s scale) OutputShape(in []int64) ([]int64, error) { return in, nil }

func (s scale) Build(b *layers.Builder, x tf.Output) (tf.Output, error) {
	dims, err := tfgraph.ShapeOf(x)
	if err != nil {
		return tf.Output{}, err
	}
	sc := b.Graph().Scope(s.name)
	gamma := b.Variable(sc, "gamma", dims[1:], tfgraph.Constant{C: 1}, true)
	y := b.QuantizeOutput(sc, s.name, sc.Mul("mul", x, gamma))
	return y, b.Graph().Err()
}

// A layer defined outside the library takes part in a model like the
// built-in ones: its variables are made, initialised, trained and
// quantized through the Builder.
func Example_customLayer() {
	m := models.Model{Input: []int64{4}, Scheme: qat.Default8Bit(), Layers: []layers.Layer{
		layers.Dense{Name: "d", Units: 3},
		scale{name: "s"},
	}}
	w, err := m.InitialWeights(nil, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range w.Names() {
		fmt.Println(name, w[name].Shape, w[name].Data[0])
	}
	// Output:
	// d/bias [3] 0
	// d/kernel [4 3] -0.8098776
	// s/gamma [3] 1
}
