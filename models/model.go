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

// Model is a stack of layers on inputs of shape [batch, Input...], with the
// scheme that quantizes it (nil: float, apart from layers that carry their
// own fixed quantizers, as the article's).
type Model struct {
	Input  []int64
	Layers []layers.Layer
	Scheme *qat.Scheme
	// FoldBatchNorm builds each Conv2D (without bias) followed by a
	// BatchNorm as one FoldedConvBN.
	FoldBatchNorm bool
}

// OutputShape validates the model and returns its per-example output shape.
func (m Model) OutputShape() ([]int64, error) {
	if len(m.Input) == 0 {
		return nil, fmt.Errorf("model: no input shape")
	}
	for _, d := range m.Input {
		if d <= 0 {
			return nil, fmt.Errorf("model: input shape %v must be fully known and > 0", m.Input)
		}
	}
	if _, err := measure.Elements(m.Input); err != nil {
		return nil, fmt.Errorf("model: input %w", err)
	}
	if len(m.Layers) == 0 {
		return nil, fmt.Errorf("model: no layers")
	}
	if err := m.Scheme.Validate(); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	seen := map[string]bool{}
	channels := map[string]bool{}
	shape := m.Input
	for i, l := range m.Layers {
		if l == nil {
			return nil, fmt.Errorf("model: layer %d is nil", i)
		}
		name := l.LayerName()
		if name == "" {
			return nil, fmt.Errorf("model: layer %d has no name", i)
		}
		if seen[name] {
			return nil, fmt.Errorf("model: two layers are named %q", name)
		}
		seen[name] = true
		_, channels[name] = l.(layers.Weighted)
		var err error
		if shape, err = l.OutputShape(shape); err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		if _, err := measure.Elements(shape); err != nil {
			return nil, fmt.Errorf("model: layer %s: output %w", name, err)
		}
	}
	if err := m.Scheme.CheckLayers(channels); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return shape, nil
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

// plan returns the layers as built: folded pairs joined, and for each
// whether it quantizes its own output (not when a ReLU or BatchNorm follows
// and takes over).
func (m Model) plan() ([]layers.Layer, []bool) {
	var ls []layers.Layer
	for i := 0; i < len(m.Layers); i++ {
		if c, ok := m.Layers[i].(layers.Conv2D); ok && m.FoldBatchNorm && c.NoBias && i+1 < len(m.Layers) {
			if bn, ok := m.Layers[i+1].(layers.BatchNorm); ok {
				ls = append(ls, layers.FoldedConvBN{Conv: c, BN: bn})
				i++
				continue
			}
		}
		ls = append(ls, m.Layers[i])
	}
	// As tfmot's layout transforms: Conv/Dense -> [BatchNorm ->] ReLU is
	// quantized once, after the last of them.
	own := make([]bool, len(ls))
	for i := range ls {
		own[i] = true
		if i+1 >= len(ls) {
			continue
		}
		_, isWeighted := ls[i].(layers.Weighted)
		_, isBN := ls[i].(layers.BatchNorm)
		switch ls[i+1].(type) {
		case layers.ReLU:
			own[i] = !(isWeighted || isBN)
		case layers.BatchNorm:
			own[i] = !isWeighted
		}
	}
	return ls, own
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
	if err := m.Validate(); err != nil {
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
	h := x
	if q := m.Scheme.Input(); q != nil {
		h = b.Quantize(b.Graph().Scope("quantize_layer"), q, "quantize_layer", h)
	}
	plan, own := m.plan()
	nParams, nUpdates := len(b.Weights()), len(b.Updates())
	for i, l := range plan {
		b.SetOutputQuantized(own[i])
		if h, err = l.Build(b, h); err != nil {
			return nil, err
		}
	}
	b.SetOutputQuantized(true)
	if err := b.Graph().Err(); err != nil {
		return nil, err
	}
	out := &Built{Logits: h, Updates: b.Updates()[nUpdates:]}
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
