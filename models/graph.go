package models

import (
	"fmt"

	"github.com/qat-go/qat/internal/measure"
	"github.com/qat-go/qat/layers"
)

// InputName is how a layer names the model's input among the layers it
// takes (Model.From, a config's inputs:), so no layer may be called so.
const InputName = "input"

// node is one layer of the model as built: the layer (a folded pair
// joined), the names of the layers it takes, its input and output shapes,
// and whether it quantizes its own output.
type node struct {
	layer layers.Layer
	// name is what later layers and Model.Output call it: the layer's
	// name, or for a folded Conv2D+BatchNorm the batch norm's.
	name           string
	from           []string
	in             [][]int64
	out            []int64
	quantizeOutput bool
	// floatWeights keeps the layer's weights in float (placement rules).
	floatWeights bool
}

// graph is a validated model in build order.
type graph struct {
	nodes []node
	// shapes are the unfolded layers' output shapes, in Model.Layers order.
	shapes [][]int64
	// output is the index of the node whose output is the model's.
	output int
}

// from returns the names layer i takes: From's, or the layer before it.
func (m Model) from(i int) []string {
	if f, ok := m.From[m.Layers[i].LayerName()]; ok {
		return f
	}
	if i == 0 {
		return []string{InputName}
	}
	return []string{m.Layers[i-1].LayerName()}
}

// outputName is the layer whose output is the model's.
func (m Model) outputName() string {
	if m.Output != "" {
		return m.Output
	}
	return m.Layers[len(m.Layers)-1].LayerName()
}

// graph validates the model's wiring and shapes and returns its nodes with
// batch norms folded (FoldBatchNorm) and quantizers placed.
func (m Model) graph() (*graph, error) {
	if err := m.checkInput(); err != nil {
		return nil, err
	}
	index := map[string]int{}
	for i, l := range m.Layers {
		if l == nil {
			return nil, fmt.Errorf("model: layer %d is nil", i)
		}
		name := l.LayerName()
		switch _, dup := index[name]; {
		case name == "":
			return nil, fmt.Errorf("model: layer %d has no name", i)
		case name == InputName:
			return nil, fmt.Errorf("model: layer %d is named %q, the name of the model's input; rename it", i, name)
		case dup:
			return nil, fmt.Errorf("model: two layers are named %q", name)
		}
		index[name] = i
	}
	for name := range m.From {
		if _, ok := index[name]; !ok {
			return nil, fmt.Errorf("model: inputs are given for layer %q, which the model does not have", name)
		}
	}
	out := m.outputName()
	if _, ok := index[out]; !ok {
		return nil, fmt.Errorf("model: the output is layer %q, which the model does not have (its layers: %s)", out, measure.List(m.layerNames()))
	}
	g := &graph{output: -1}
	used := map[string]bool{out: true}
	channels := map[string]bool{}
	shapeOf := func(name string) []int64 {
		if name == InputName {
			return m.Input
		}
		return g.shapes[index[name]]
	}
	for i, l := range m.Layers {
		name := l.LayerName()
		from := m.from(i)
		in := make([][]int64, len(from))
		for k, f := range from {
			j, ok := index[f]
			switch {
			case f == InputName:
			case !ok:
				return nil, fmt.Errorf("model: layer %s takes %q, which is not a layer of the model", name, f)
			case j >= i:
				return nil, fmt.Errorf("model: layer %s takes %s, which comes after it; list layers after those they take", name, f)
			}
			used[f] = true
			in[k] = shapeOf(f)
		}
		var shape []int64
		var err error
		if mg, ok := l.(layers.Merger); ok {
			shape, err = mg.MergeShape(in)
		} else if len(in) != 1 {
			err = fmt.Errorf("layer %s takes %d inputs (%s); only add and concatenate take more than one", name, len(in), measure.List(from))
		} else {
			shape, err = l.OutputShape(in[0])
		}
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		if _, err := measure.Elements(shape); err != nil {
			return nil, fmt.Errorf("model: layer %s: output %w", name, err)
		}
		g.shapes = append(g.shapes, shape)
		_, channels[name] = l.(layers.Weighted)
		g.nodes = append(g.nodes, node{layer: l, name: name, from: from, in: in, out: shape, quantizeOutput: true})
	}
	for _, l := range m.Layers {
		if !used[l.LayerName()] {
			return nil, fmt.Errorf("model: the output of layer %s is not used: name it in a later layer's inputs, or make it the model's output", l.LayerName())
		}
	}
	if err := m.Scheme.CheckLayers(channels); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if m.FoldBatchNorm {
		g.fold(out)
	}
	for i, n := range g.nodes {
		if n.name == out {
			g.output = i
		}
	}
	g.place(out, m.Scheme.Compat())
	return g, nil
}

// checkInput validates the model's input shape, that it has layers, and
// its scheme.
func (m Model) checkInput() error {
	if len(m.Input) == 0 {
		return fmt.Errorf("model: no input shape")
	}
	for _, d := range m.Input {
		if d <= 0 {
			return fmt.Errorf("model: input shape %v must be fully known and > 0", m.Input)
		}
	}
	if _, err := measure.Elements(m.Input); err != nil {
		return fmt.Errorf("model: input %w", err)
	}
	if len(m.Layers) == 0 {
		return fmt.Errorf("model: no layers")
	}
	if err := m.Scheme.Validate(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

func (m Model) layerNames() []string {
	names := make([]string, len(m.Layers))
	for i, l := range m.Layers {
		names[i] = l.LayerName()
	}
	return names
}

// consumers lists, by name, the nodes that take each output.
func (g *graph) consumers() map[string][]int {
	c := map[string][]int{}
	for i, n := range g.nodes {
		for _, f := range n.from {
			c[f] = append(c[f], i)
		}
	}
	return c
}

// fold joins each Conv2D without bias whose only consumer is a BatchNorm
// into one FoldedConvBN, in the batch norm's place.
func (g *graph) fold(output string) {
	cons := g.consumers()
	drop := map[int]bool{}
	for i, n := range g.nodes {
		c, ok := n.layer.(layers.Conv2D)
		if !ok || !c.NoBias || n.name == output || len(cons[n.name]) != 1 {
			continue
		}
		j := cons[n.name][0]
		bn, ok := g.nodes[j].layer.(layers.BatchNorm)
		if !ok || len(g.nodes[j].from) != 1 {
			continue
		}
		g.nodes[j] = node{layer: layers.FoldedConvBN{Conv: c, BN: bn}, name: bn.Name, from: n.from, in: n.in,
			out: g.nodes[j].out, quantizeOutput: true}
		drop[i] = true
	}
	kept := g.nodes[:0]
	for i, n := range g.nodes {
		if !drop[i] {
			kept = append(kept, n)
		}
	}
	g.nodes = kept
}
