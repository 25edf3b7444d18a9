package layers

import (
	"fmt"

	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// ArticleDense is the article's QuantizedDense / QuantizedLayer:
// y = fq_out(x @ fq_w(weight_fp) + fq_b(bias_fp)), where each fixed-range
// quantizer is optional (nil = no fake quant) and the float master weights
// are the variables weight_fp [in, units] and bias_fp [units]. It ignores
// the model's Scheme: its ranges are the article's constants.
type ArticleDense struct {
	Name    string
	Units   int
	Weights qat.Quantizer
	Bias    qat.Quantizer
	Output  qat.Quantizer
}

// Validate checks the layer's own settings.
func (d ArticleDense) Validate() error {
	if d.Units <= 0 {
		return fmt.Errorf("layer %s: units %d must be > 0", d.Name, d.Units)
	}
	for _, q := range []struct {
		what string
		q    qat.Quantizer
	}{{"weights", d.Weights}, {"bias", d.Bias}, {"output", d.Output}} {
		if q.q == nil {
			continue
		}
		if err := q.q.Validate(); err != nil {
			return fmt.Errorf("layer %s: %s quantizer: %w", d.Name, q.what, err)
		}
	}
	return nil
}

// LayerName implements Layer.
func (d ArticleDense) LayerName() string { return d.Name }

func (d ArticleDense) HasChannels() bool { return true }

// OutputShape implements Layer: [in] -> [units].
func (d ArticleDense) OutputShape(in []int64) ([]int64, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if len(in) != 1 || in[0] <= 0 {
		return nil, fmt.Errorf("layer %s: input must be [batch, features], got [batch %v]", d.Name, in)
	}
	return []int64{int64(d.Units)}, nil
}

// Build implements Layer: variables "<layer>/weight_fp", "<layer>/bias_fp".
func (d ArticleDense) Build(b *Builder, x tf.Output) (tf.Output, error) {
	in, err := inputShape(d, x)
	if err != nil {
		return tf.Output{}, err
	}
	g := b.Graph()
	s := g.Scope(d.Name)
	wv := b.variable(s, "weight_fp", []int64{in[0], int64(d.Units)}, tfgraph.GlorotUniform{}, true)
	bv := b.variable(s, "bias_fp", []int64{int64(d.Units)}, tfgraph.Zeros{}, true)
	wq := b.Quantize(s, d.Weights, "weight_quant", wv)
	bq := b.Quantize(s, d.Bias, "bias_quant", bv)
	y := s.AddV2("add", s.MatMul("MatMul", x, wq, false, false), bq)
	y = b.Quantize(s, d.Output, "output_quant", y)
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", d.Name, err)
	}
	return y, nil
}

// The article's numbers: weights and biases fake-quantized in [-0.1, 0.1],
// activations in [-1, 1], 8 bits.
const (
	ArticleWeightRange     = 0.1
	ArticleActivationRange = 1.0
)
