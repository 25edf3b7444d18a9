package models

import (
	"fmt"

	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Dense is the article's QuantizedDense / QuantizedLayer:
// y = fq_out(x @ fq_w(weight_fp) + fq_b(bias_fp)), where each quantizer is
// optional (nil = no fake quant) and the float master weights are the
// variables weight_fp [in, units] and bias_fp [units].
type Dense struct {
	Name    string
	Units   int
	Weights qat.Quantizer
	Bias    qat.Quantizer
	Output  qat.Quantizer
}

// Param is a trainable variable with the value the forward pass read, which
// is what gradients are taken with respect to.
type Param struct {
	Var   *tfgraph.Variable
	Value tf.Output
}

// Validate checks the layer's own settings.
func (d Dense) Validate() error {
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

// Build adds the layer to g on input x ([batch, in]), with initial values
// taken from init by variable name ("<layer>/weight_fp", "<layer>/bias_fp").
func (d Dense) Build(g *tfgraph.Graph, x tf.Output, init Weights) (tf.Output, []Param, error) {
	if err := d.Validate(); err != nil {
		return tf.Output{}, nil, err
	}
	dims, err := tfgraph.ShapeOf(x)
	if err != nil || len(dims) != 2 || dims[1] <= 0 {
		return tf.Output{}, nil, fmt.Errorf("layer %s: input must be [batch, features] with known features, got %v", d.Name, dims)
	}
	s := g.Scope(d.Name)
	wShape := []int64{dims[1], int64(d.Units)}
	bShape := []int64{int64(d.Units)}
	wInit, err := init.tensor(d.Name+"/weight_fp", wShape)
	if err != nil {
		return tf.Output{}, nil, err
	}
	bInit, err := init.tensor(d.Name+"/bias_fp", bShape)
	if err != nil {
		return tf.Output{}, nil, err
	}
	w := s.NewVariable("weight_fp", wInit)
	b := s.NewVariable("bias_fp", bInit)
	wv := w.Read(s, "weight_fp/read")
	bv := b.Read(s, "bias_fp/read")
	wq, bq := wv, bv
	if d.Weights != nil {
		wq = d.Weights.Apply(s, "weight_quant", wv)
	}
	if d.Bias != nil {
		bq = d.Bias.Apply(s, "bias_quant", bv)
	}
	y := s.AddV2("add", s.MatMul("MatMul", x, wq, false, false), bq)
	if d.Output != nil {
		y = d.Output.Apply(s, "output_quant", y)
	}
	if err := g.Err(); err != nil {
		return tf.Output{}, nil, fmt.Errorf("layer %s: %w", d.Name, err)
	}
	return y, []Param{{w, wv}, {b, bv}}, nil
}
