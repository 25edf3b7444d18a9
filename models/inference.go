package models

import (
	"fmt"
	"math"
	"strings"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Inference is a model's inference graph on a graph of its own:
// quantizers read their stored ranges, batch norms their moving
// statistics, and there are no training ops. loop's Evaluator runs it and
// savedmodel exports it, so both compute the same outputs.
type Inference struct {
	Graph *tfgraph.Graph
	// X is the input placeholder [-1, Input...]; Logits the output.
	X, Logits tf.Output
	// Variables are the model's variables (weights, biases, batch-norm
	// statistics) in build order, Trainable those the training graph
	// trains, and Ranges the quantizers' range variables.
	Variables, Ranges []*tfgraph.Variable
	Trainable         []*tfgraph.Variable
}

// BuildInference builds m for inference with its variables initialised
// from weights (every model variable, by name) and ranges (every range
// variable the scheme needs; others are ignored), the input placeholder
// named input. A missing value is an error naming the variable.
func BuildInference(m Model, input string, weights, ranges data.Weights) (*Inference, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	g := tfgraph.NewGraph()
	x := g.Placeholder(input, tf.Float, append([]int64{-1}, m.Input...))
	r := make(map[string][]float32, len(ranges))
	for n, a := range ranges {
		r[n] = a.Data
	}
	env := qat.NewEnv(g, false, r)
	b := layers.NewBuilder(env, m.Scheme, weights, 0)
	built, err := m.Build(b, x)
	if err != nil {
		return nil, err
	}
	inf := &Inference{Graph: g, X: x, Logits: built.Logits, Variables: b.Variables(), Ranges: env.RangeVariables()}
	for _, v := range inf.Variables {
		if _, ok := weights[v.Name]; !ok {
			return nil, fmt.Errorf("weights have no value for variable %s", v.Name)
		}
	}
	for _, v := range inf.Ranges {
		if _, ok := r[v.Name]; !ok {
			return nil, fmt.Errorf("ranges have no value for quantizer range %s", v.Name)
		}
	}
	for _, v := range inf.Ranges {
		if err := checkRange(v.Name, r); err != nil {
			return nil, err
		}
	}
	for _, p := range b.Params() {
		inf.Trainable = append(inf.Trainable, p.Var)
	}
	return inf, nil
}

// checkRange checks the values of the range variable name, if it is a
// quantizer's "<quantizer>_min", against its "<quantizer>_max": both
// finite and min <= max for every channel.
func checkRange(name string, r map[string][]float32) error {
	q, ok := strings.CutSuffix(name, "_min")
	if !ok {
		return nil
	}
	lo, hi := r[name], r[q+"_max"]
	if len(lo) != len(hi) {
		return fmt.Errorf("ranges: quantizer %s has %d min values and %d max values", q, len(lo), len(hi))
	}
	for i := range lo {
		at := ""
		if len(lo) > 1 {
			at = fmt.Sprintf(" (channel %d)", i)
		}
		a, b := float64(lo[i]), float64(hi[i])
		if math.IsNaN(a) || math.IsInf(a, 0) || math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("ranges: quantizer %s%s has range [%v, %v]; want finite values", q, at, lo[i], hi[i])
		}
		if a > b {
			return fmt.Errorf("ranges: quantizer %s%s has min %v > max %v", q, at, lo[i], hi[i])
		}
	}
	return nil
}
