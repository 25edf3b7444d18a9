package report

import (
	"fmt"
	"path"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
)

// LayerWeights is one layer's weight tensor with the grid its quantizer
// puts it on.
type LayerWeights struct {
	Layer, Variable string
	Values          data.Array
	// Quantizer names the range variables (<Quantizer>_min, _max), or the
	// article's fixed range; empty when the weights stay in float.
	Quantizer string
	// Grid is nil when the weights stay in float (or, Note says, when the
	// grid applies to another tensor).
	Grid  *Grid
	Usage Usage
	Note  string
}

// weightTensors lists, layer by layer, each weight tensor that a weight
// quantizer sees (kernels; the article's weight_fp and bias_fp), with its
// grid from ranges.npz (or the article's fixed ranges) and the scheme's
// bits and narrow range.
func (r *Run) weightTensors() ([]LayerWeights, error) {
	var out []LayerWeights
	for _, l := range r.Model.Layers {
		name := l.LayerName()
		for _, v := range weightVars(l) {
			w, ok := r.Weights[name+"/"+v.variable]
			if !ok {
				continue
			}
			lw := LayerWeights{Layer: name, Variable: v.variable, Values: w}
			if err := r.attachGrid(&lw, l, v); err != nil {
				return nil, fmt.Errorf("weights %s/%s: %w", name, v.variable, err)
			}
			out = append(out, lw)
		}
	}
	return out, nil
}

type weightVar struct {
	variable, quantizer string
	fixed               qat.Quantizer // the article's own quantizer
}

// weightVars are the weight variables of l that a weight quantizer sees,
// with the quantizer's name.
func weightVars(l layers.Layer) []weightVar {
	if a, ok := l.(layers.ArticleDense); ok {
		return []weightVar{{"weight_fp", "weight_quant", a.Weights}, {"bias_fp", "bias_quant", a.Bias}}
	}
	return []weightVar{{"kernel", "kernel", nil}, {"depthwise_kernel", "kernel", nil}}
}

func (r *Run) attachGrid(lw *LayerWeights, l layers.Layer, v weightVar) error {
	q := lw.Layer + "/" + v.quantizer
	lo, okLo := r.RangeValues[q+"_min"]
	hi, okHi := r.RangeValues[q+"_max"]
	quant := v.fixed
	if v.fixed == nil {
		quant = r.Model.Scheme.Weights(lw.Layer, len(lo.Shape) > 0)
	}
	if quant == nil || (v.fixed == nil && !okLo && !okHi) {
		lw.Note = "float (not quantized)"
		return nil
	}
	bits, narrow, err := bitsOf(quant)
	if err != nil {
		return err
	}
	var mins, maxs []float32
	switch {
	case okLo && okHi:
		mins, maxs = lo.Data, hi.Data
	case okLo != okHi:
		return fmt.Errorf("ranges.npz has only one of %s_min and %s_max", q, q)
	default:
		f, ok := quant.(qat.FixedRange)
		if !ok {
			return fmt.Errorf("ranges.npz has no %s_min", q)
		}
		mins, maxs, q = []float32{f.Min}, []float32{f.Max}, path.Join(lw.Layer, v.quantizer)+" (fixed)"
	}
	if _, hasBias := r.Weights[lw.Layer+"/bias"]; r.Model.FoldBatchNorm && v.variable == "kernel" && !hasBias {
		lw.Quantizer = q
		lw.Note = "folded with its batch norm: the grid applies to the folded kernel, not drawn"
		return nil
	}
	g, err := NewGrid(mins, maxs, bits, narrow, len(lo.Shape) > 0)
	if err != nil {
		return fmt.Errorf("quantizer %s: %w", q, err)
	}
	u, err := g.Usage(lw.Values.Data)
	if err != nil {
		return fmt.Errorf("quantizer %s (%d channels) on shape %v: %w", q, g.Channels(), lw.Values.Shape, err)
	}
	lw.Quantizer, lw.Grid, lw.Usage = q, &g, u
	return nil
}

// bitsOf returns a quantizer's bit width and narrow range.
func bitsOf(q qat.Quantizer) (int, bool, error) {
	switch q := q.(type) {
	case qat.LastValue:
		return q.NumBits, q.NarrowRange, nil
	case qat.FixedRange:
		return q.NumBits, q.NarrowRange, nil
	case qat.MovingAverage:
		return q.NumBits, q.NarrowRange, nil
	case qat.Learnable:
		return q.NumBits, q.NarrowRange, nil
	case qat.AllValues:
		return q.NumBits, q.NarrowRange, nil
	}
	return 0, false, fmt.Errorf("quantizer %T: unknown bit width", q)
}
