package models_test

import (
	"fmt"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

// A small conv net under tfmot's default 8-bit scheme, with its second
// convolution in 4 bits, checked before any graph is built.
func ExampleModel() {
	s := qat.Default8Bit()
	s.Layers = map[string]qat.Policy{"c2": {WeightBits: 4, ActivationBits: 8}}
	m := models.Model{Input: []int64{28, 28, 1}, Scheme: s, Layers: []layers.Layer{
		layers.Conv2D{Name: "c1", Filters: 8, Kernel: [2]int{3, 3}, Activation: layers.ReLUAct},
		layers.MaxPool{Name: "p1"},
		layers.Conv2D{Name: "c2", Filters: 16, Kernel: [2]int{3, 3}, Activation: layers.ReLUAct},
		layers.Flatten{Name: "f"},
		layers.Dense{Name: "d", Units: 10},
	}}
	out, err := m.OutputShape()
	fmt.Println(out, err, m.Classes())

	m.Layers[0] = layers.Dense{Name: "c1", Units: 10}
	fmt.Println(m.Validate())
	// Output:
	// [10] <nil> 10
	// model: layer c1: dense input must be [batch, features], got [batch [28 28 1]] (add a flatten layer)
}
