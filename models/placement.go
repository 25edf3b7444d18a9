package models

import (
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
)

// Where quantizers go between layers, as tfmot's default 8-bit layout
// transforms place them (default_8bit_transforms.py, applied by
// quantize_model). Every layer that quantizes its output does so unless a
// rule below hands the output on to a layer after it. A rule matches only
// where the layers it hands over from have one consumer and are not the
// model's output (tfmot leaves shared outputs alone), so a shared output
// is quantized once, by its producer.
//
//   - Conv2D or DepthwiseConv2D (linear) -> BatchNorm [-> ReLU], and
//     Dense (linear) -> BatchNorm [-> ReLU]: quantized once, after the last
//     of them (Conv2DBatchNormQuantize, ...ReLUQuantize, DenseBatchNorm...).
//   - Add, Conv2D, DepthwiseConv2D, Dense or a folded Conv+BatchNorm ->
//     ReLU: quantized after the ReLU (LayerReLUQuantize). A BatchNorm -> ReLU
//     is treated alike.
//   - With the scheme's TFMOT settings, two tfmot quirks: a Conv2D,
//     DepthwiseConv2D or Dense -> ReLU also keeps its weights in float
//     (FloatKernelBeforeReLU: LayerReLUQuantize's no-op config), and a
//     linear Dense -> BatchNorm -> ReLU quantizes the BatchNorm's output too
//     (BatchNormOutputAfterDense).
//   - layers -> Concatenate: quantized after the concatenation; the
//     inputs' own output quantizers are dropped (ConcatTransform).
//     Weighted layers keep theirs, as in tfmot, where theirs belongs to
//     the activation, not the output. The model's input is always shared
//     in practice (a branch beside the concatenation takes it too), so
//     the rule never drops its quantizer.

// place sets each node's quantizeOutput and floatWeights.
func (g *graph) place(output string, compat qat.TFMOTCompat) {
	cons := g.consumers()
	byName := map[string]int{}
	for i, n := range g.nodes {
		byName[n.name] = i
	}
	// single reports whether name's output goes to one layer only.
	single := func(name string) bool { return name != output && len(cons[name]) == 1 }
	// producer returns the node that n takes its one input from.
	producer := func(n node) (int, bool) {
		if len(n.from) != 1 || n.from[0] == InputName || !single(n.from[0]) {
			return 0, false
		}
		return byName[n.from[0]], true
	}
	for _, n := range g.nodes {
		p, ok := producer(n)
		if !ok {
			continue
		}
		switch n.layer.(type) {
		case layers.BatchNorm:
			if linearWeighted(g.nodes[p].layer) {
				g.nodes[p].quantizeOutput = false
			}
		case layers.ReLU:
			switch l := g.nodes[p].layer.(type) {
			case layers.Add, layers.FoldedConvBN:
				g.nodes[p].quantizeOutput = false
			case layers.BatchNorm:
				if d, ok := producer(g.nodes[p]); ok && compat.BatchNormOutputAfterDense && linearDense(g.nodes[d].layer) {
					continue
				}
				g.nodes[p].quantizeOutput = false
			case layers.Conv2D, layers.DepthwiseConv2D, layers.Dense:
				g.nodes[p].quantizeOutput = false
				g.nodes[p].floatWeights = compat.FloatKernelBeforeReLU
			default:
				if _, weighted := l.(layers.Weighted); weighted {
					g.nodes[p].quantizeOutput = false
				}
			}
		}
	}
	for _, n := range g.nodes {
		if _, ok := n.layer.(layers.Concatenate); !ok {
			continue
		}
		all := true
		for _, f := range n.from {
			all = all && f != InputName && single(f)
		}
		if !all {
			continue
		}
		for _, f := range n.from {
			if _, weighted := g.nodes[byName[f]].layer.(layers.Weighted); !weighted {
				g.nodes[byName[f]].quantizeOutput = false
			}
		}
	}
}

// linearDense reports whether l is a Dense without an activation.
func linearDense(l layers.Layer) bool {
	_, dense := l.(layers.Dense)
	return dense && linearWeighted(l)
}

// linearWeighted reports whether l is a Conv2D, DepthwiseConv2D or Dense
// without an activation, the layers tfmot joins with a BatchNorm after.
func linearWeighted(l layers.Layer) bool {
	linear := func(a string) bool { return a == layers.Linear || a == "linear" }
	switch l := l.(type) {
	case layers.Conv2D:
		return linear(l.Activation)
	case layers.DepthwiseConv2D:
		return linear(l.Activation)
	case layers.Dense:
		return linear(l.Activation)
	}
	return false
}
