package models

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/measure"
	"github.com/qat-go/qat/layers"
)

// Bytes per parameter that training holds at the least: the float32
// variable, Adam's two float32 slots and the float32 initial values kept
// in Go (InitialWeights).
const trainBytesPerParam = 4 * 4

// params is the number of variables' values a layer holds (weights,
// biases, batch-norm statistics) on input in, saturating; 0 for layers it
// does not know.
func params(l layers.Layer, in, out []int64) int64 {
	last := func(s []int64) int64 {
		if len(s) == 0 {
			return 0
		}
		return s[len(s)-1]
	}
	bias := func(noBias bool, n int64) int64 {
		if noBias {
			return 0
		}
		return n
	}
	switch l := l.(type) {
	case layers.ArticleDense:
		return measure.Add(measure.Mul(last(in), int64(l.Units)), int64(l.Units))
	case layers.Dense:
		return measure.Add(measure.Mul(last(in), int64(l.Units)), int64(l.Units))
	case layers.Conv2D:
		k := measure.Mul(measure.Mul(int64(l.Kernel[0]), int64(l.Kernel[1])), measure.Mul(last(in), int64(l.Filters)))
		return measure.Add(k, bias(l.NoBias, int64(l.Filters)))
	case layers.DepthwiseConv2D:
		k := measure.Mul(measure.Mul(int64(l.Kernel[0]), int64(l.Kernel[1])), measure.Mul(last(in), l.DepthMultiplier()))
		return measure.Add(k, bias(l.NoBias, last(out)))
	case layers.BatchNorm:
		return measure.Mul(4, last(out))
	case layers.FoldedConvBN:
		return measure.Add(params(l.Conv, in, out), params(l.BN, out, out))
	}
	return 0
}

// Footprint is the memory a model needs at the least, in bytes: its
// parameters and the activations of one batch, all float32. It leaves out
// TensorFlow's working buffers (gradients, quantizer temporaries), so real
// use is higher.
type Footprint struct {
	// Params counts every variable's values (weights, biases, batch-norm
	// statistics).
	Params int64
	// Bytes is the total: Params times 16 when training (the weights,
	// Adam's two slots and the initial values), times 8 for inference (the
	// variables and their initial values), plus the activations: every
	// layer's output (and the input) for one batch.
	Bytes int64
	// Layer is the layer that needs the most of Bytes, LayerParams its
	// parameters and LayerBytes its share.
	Layer       string
	LayerParams int64
	LayerBytes  int64
}

// Footprint returns the memory a model needs to train (training true) or
// run (false) on batches of batch examples. Sizes too large for int64
// saturate at math.MaxInt64.
func (m Model) Footprint(batch int64, training bool) (Footprint, error) {
	if batch < 1 {
		batch = 1
	}
	perParam := int64(trainBytesPerParam)
	if !training {
		perParam = 8
	}
	in, _ := measure.Elements(m.Input)
	f := Footprint{Bytes: measure.Mul(measure.Mul(in, batch), 4)}
	g, err := m.graph()
	if err != nil {
		return Footprint{}, err
	}
	for _, n := range g.nodes {
		elems, _ := measure.Elements(n.out)
		p := params(n.layer, n.in[0], n.out)
		b := measure.Add(measure.Mul(p, perParam), measure.Mul(measure.Mul(elems, batch), 4))
		f.Params = measure.Add(f.Params, p)
		f.Bytes = measure.Add(f.Bytes, b)
		if b > f.LayerBytes {
			f.Layer, f.LayerParams, f.LayerBytes = n.layer.LayerName(), p, b
		}
	}
	return f, nil
}

// CheckMemory returns an error naming the largest layer if training
// (training true) or running the model on batches of batch examples needs
// more memory than MemoryBudget, or more than int64 can count. extra bytes
// (e.g. the training data) are added to the need. Nothing is allocated, so
// it is safe to call before a model of any size is built.
func (m Model) CheckMemory(batch int64, training bool, extra int64) error {
	if batch < 1 {
		batch = 1
	}
	f, err := m.Footprint(batch, training)
	if err != nil {
		return err
	}
	need := measure.Add(f.Bytes, extra)
	budget, source := data.MemoryBudget()
	if need < budget && need < math.MaxInt64 {
		return nil
	}
	what, per := "run", "8 bytes per parameter for the float32 variables and their initial values"
	if training {
		what, per = "train", "16 bytes per parameter for the float32 weights, Adam's two slots and the initial values"
	}
	var dataText string
	if extra > 0 {
		dataText = fmt.Sprintf(", %s of data", measure.Bytes(extra))
	}
	have := data.DescribeBudget(budget, source)
	return fmt.Errorf("model: too large to %s: layer %s needs %s (%d parameters); the model at least %s "+
		"(%s, the activations of a batch of %d%s), more than %s",
		what, f.Layer, measure.Bytes(f.LayerBytes), f.LayerParams, measure.Bytes(need), per, batch, dataText, have)
}
