package models

import (
	"fmt"
	"math/rand/v2"

	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Model is a stack of Dense layers on a [batch, Inputs] input.
type Model struct {
	Inputs int
	Layers []Dense
}

// Classes is the width of the last layer.
func (m Model) Classes() int {
	if len(m.Layers) == 0 {
		return 0
	}
	return m.Layers[len(m.Layers)-1].Units
}

// InitialWeights returns the model's initial values: those in given (whose
// names and shapes must fit the model), and for the rest glorot_uniform
// weights and zero biases drawn from a PCG seeded with seed.
func (m Model) InitialWeights(given Weights, seed uint64) (Weights, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	shapes := map[string][]int64{}
	var order []string
	in := int64(m.Inputs)
	for _, l := range m.Layers {
		w, b := l.Name+"/weight_fp", l.Name+"/bias_fp"
		shapes[w], shapes[b] = []int64{in, int64(l.Units)}, []int64{int64(l.Units)}
		order = append(order, w, b)
		in = int64(l.Units)
	}
	for _, name := range given.Names() {
		if shapes[name] == nil {
			return nil, fmt.Errorf("initial weights name %q, which the model does not have", name)
		}
		if !tfgraph.SameShape(given[name].Shape, shapes[name]) {
			return nil, fmt.Errorf("initial value for %s has shape %v, the model needs %v", name, given[name].Shape, shapes[name])
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	out := Weights{}
	for i, name := range order {
		var init tfgraph.Initializer = tfgraph.GlorotUniform{}
		if i%2 == 1 {
			init = tfgraph.Zeros{}
		}
		vals, err := init.Values(shapes[name], rng) // drawn even when given, so seeds stay aligned
		if err != nil {
			return nil, fmt.Errorf("initialise %s: %w", name, err)
		}
		if a, ok := given[name]; ok {
			vals = a.Data
		}
		out[name] = Array{Shape: shapes[name], Data: vals}
	}
	return out, nil
}

// Validate checks the model's structure and every quantizer.
func (m Model) Validate() error {
	if m.Inputs <= 0 {
		return fmt.Errorf("model: inputs %d must be > 0", m.Inputs)
	}
	if len(m.Layers) == 0 {
		return fmt.Errorf("model: no layers")
	}
	seen := map[string]bool{}
	for _, l := range m.Layers {
		if seen[l.Name] {
			return fmt.Errorf("model: two layers are named %q", l.Name)
		}
		seen[l.Name] = true
		if err := l.Validate(); err != nil {
			return fmt.Errorf("model: %w", err)
		}
	}
	return nil
}

// Built is a model's graph: its logits and trainable parameters in layer
// order (weight then bias).
type Built struct {
	Logits tf.Output
	Params []Param
}

// Build adds the model on input x. init overrides initial values by
// variable name; other variables are drawn from a PCG seeded with seed.
func (m Model) Build(g *tfgraph.Graph, x tf.Output, init Weights, seed uint64) (*Built, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	dims, err := tfgraph.ShapeOf(x)
	if err != nil {
		return nil, fmt.Errorf("model input: %w", err)
	}
	if len(dims) != 2 || dims[1] != int64(m.Inputs) {
		return nil, fmt.Errorf("model input has shape %v, want [batch, %d]", dims, m.Inputs)
	}
	values, err := m.InitialWeights(init, seed)
	if err != nil {
		return nil, err
	}
	out := &Built{}
	h := x
	for _, l := range m.Layers {
		var ps []Param
		h, ps, err = l.Build(g, h, values)
		if err != nil {
			return nil, err
		}
		out.Params = append(out.Params, ps...)
	}
	out.Logits = h
	return out, nil
}

// The article's numbers: weights and biases fake-quantized in [-0.1, 0.1],
// activations in [-1, 1], 8 bits.
const (
	ArticleWeightRange     = 0.1
	ArticleActivationRange = 1.0
)

func articleLayer(name string, units int, quantizeOutput bool) Dense {
	d := Dense{Name: name, Units: units, Weights: qat.Symmetric(ArticleWeightRange), Bias: qat.Symmetric(ArticleWeightRange)}
	if quantizeOutput {
		d.Output = qat.Symmetric(ArticleActivationRange)
	}
	return d
}

// Example1 is the article's Example 1: one QuantizedDense(2) on 10 inputs,
// weights and bias fake-quantized in [-0.1, 0.1].
func Example1() Model {
	return Model{Inputs: 10, Layers: []Dense{articleLayer("layer1", 2, false)}}
}

// Example2 is Example 1 plus output fake quant in [-1, 1].
func Example2() Model {
	return Model{Inputs: 10, Layers: []Dense{articleLayer("layer1", 2, true)}}
}

// Example3 is the article's Example 3: two quantized layers, 10 -> 32 -> 10.
func Example3() Model {
	return Model{Inputs: 10, Layers: []Dense{articleLayer("layer1", 32, true), articleLayer("layer2", 10, true)}}
}

// Example returns the article's example n (1, 2 or 3).
func Example(n int) (Model, error) {
	switch n {
	case 1:
		return Example1(), nil
	case 2:
		return Example2(), nil
	case 3:
		return Example3(), nil
	}
	return Model{}, fmt.Errorf("no example %d: the article has examples 1, 2 and 3", n)
}
