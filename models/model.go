package models

import (
	"fmt"
	"strconv"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/measure"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Model is layers on inputs of shape [batch, Input...], with the scheme
// that quantizes it (nil: float, apart from layers that carry their own
// fixed quantizers, as the article's). By default each layer takes the
// output of the one before it; From wires any other graph (residual
// blocks, branches joined by Add or Concatenate).
type Model struct {
	Input  []int64
	Layers []layers.Layer
	// From names, by layer, the layers whose outputs it takes, in order
	// (InputName for the model's input). A layer not in From takes the
	// previous layer's output, the first the model's input. A layer may
	// take only layers listed before it.
	From map[string][]string
	// Output names the layer whose output is the model's (default: the
	// last). Every other layer's output must be taken by a layer.
	Output string
	Scheme *qat.Scheme
	// FoldBatchNorm builds each Conv2D (without bias) whose only consumer
	// is a BatchNorm as one FoldedConvBN.
	FoldBatchNorm bool
}

// OutputShape validates the model and returns its per-example output shape.
func (m Model) OutputShape() ([]int64, error) {
	g, err := m.graph()
	if err != nil {
		return nil, err
	}
	return g.nodes[g.output].out, nil
}

// Shapes validates the model and returns each layer's per-example output
// shape, in Layers order (batch norms unfolded).
func (m Model) Shapes() ([][]int64, error) {
	g, err := m.graph()
	if err != nil {
		return nil, err
	}
	return g.shapes, nil
}

// Validate checks the model's structure, shapes and scheme.
func (m Model) Validate() error {
	_, err := m.OutputShape()
	return err
}

// Classes is the width of the model's output, or 0 if the model is invalid
// or its output is not a vector.
func (m Model) Classes() int {
	out, err := m.OutputShape()
	if err != nil || len(out) != 1 {
		return 0
	}
	return int(out[0])
}

// Built is a model's graph: its output and, for training graphs, the
// trainable parameters and the extra update ops.
type Built struct {
	Logits tf.Output
	// Params are the trainable variables in build order.
	Params []layers.Param
	// Updates must run with each training step (batch-norm statistics).
	Updates []*tf.Operation
}

// Build adds the model on x with b, which says training or inference and
// holds the variables (a second Build with the same Builder reuses them).
func (m Model) Build(b *layers.Builder, x tf.Output) (*Built, error) {
	g, err := m.graph()
	if err != nil {
		return nil, err
	}
	dims, err := tfgraph.ShapeOf(x)
	if err != nil {
		return nil, fmt.Errorf("model input: %w", err)
	}
	if len(dims) != len(m.Input)+1 || !tfgraph.SameShape(dims[1:], m.Input) {
		return nil, fmt.Errorf("model input has shape %v, want [batch %v]", dims, m.Input)
	}
	if len(b.Variables()) == 0 { // the first build makes the variables
		if err := m.CheckMemory(dims[0], b.Env.Training, 0); err != nil {
			return nil, err
		}
	}
	b.Scheme = m.Scheme
	outputs := map[string]tf.Output{InputName: x}
	if q := m.Scheme.Input(); q != nil {
		outputs[InputName] = b.Quantize(b.Graph().Scope("quantize_layer"), q, "quantize_layer", x)
	}
	nParams, nUpdates := len(b.Weights()), len(b.Updates())
	for _, n := range g.nodes {
		xs := make([]tf.Output, len(n.from))
		for i, f := range n.from {
			xs[i] = outputs[f]
		}
		b.SetOutputQuantized(n.quantizeOutput)
		b.SetWeightsQuantized(!n.floatWeights)
		var y tf.Output
		if mg, ok := n.layer.(layers.Merger); ok {
			y, err = mg.BuildMerge(b, xs)
		} else {
			y, err = n.layer.Build(b, xs[0])
		}
		if err != nil {
			b.SetOutputQuantized(true)
			b.SetWeightsQuantized(true)
			return nil, err
		}
		outputs[n.name] = y
	}
	b.SetOutputQuantized(true)
	b.SetWeightsQuantized(true)
	if err := b.Graph().Err(); err != nil {
		return nil, err
	}
	out := &Built{Logits: outputs[g.nodes[g.output].name], Updates: b.Updates()[nUpdates:]}
	out.Params = append(out.Params, b.Weights()[nParams:]...)
	out.Params = append(out.Params, b.Env.Trainable()...)
	return out, nil
}

// InitialWeights returns the values every model variable starts from:
// those in given (whose names and shapes must fit the model), and for the
// rest Keras's initialisers drawn from a PCG seeded with seed.
func (m Model) InitialWeights(given data.Weights, seed uint64) (data.Weights, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	g := tfgraph.NewGraph()
	x := g.Placeholder("x", tf.Float, append([]int64{1}, m.Input...))
	b := layers.NewBuilder(qat.NewEnv(g, false, nil), m.Scheme, given, seed)
	if _, err := m.Build(b, x); err != nil {
		return nil, err
	}
	var unknown []string
	for _, name := range given.Names() {
		if _, ok := b.Initial()[name]; !ok {
			unknown = append(unknown, strconv.Quote(name))
		}
	}
	if len(unknown) > 0 {
		more := ""
		if len(unknown) > 1 {
			more = " (nor " + measure.List(unknown[1:]) + ")"
		}
		return nil, fmt.Errorf("initial weights name %s, which the model does not have%s; its variables are %s",
			unknown[0], more, measure.List(b.Initial().Names()))
	}
	return b.Initial(), nil
}
