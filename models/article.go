package models

import (
	"fmt"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
)

func articleLayer(name string, units int, quantizeOutput bool) layers.ArticleDense {
	d := layers.ArticleDense{Name: name, Units: units, Weights: qat.Symmetric(layers.ArticleWeightRange), Bias: qat.Symmetric(layers.ArticleWeightRange)}
	if quantizeOutput {
		d.Output = qat.Symmetric(layers.ArticleActivationRange)
	}
	return d
}

// Example1 is the article's Example 1: one QuantizedDense(2) on 10 inputs,
// weights and bias fake-quantized in [-0.1, 0.1].
func Example1() Model {
	return Model{Input: []int64{10}, Layers: []layers.Layer{articleLayer("layer1", 2, false)}}
}

// Example2 is Example 1 plus output fake quant in [-1, 1].
func Example2() Model {
	return Model{Input: []int64{10}, Layers: []layers.Layer{articleLayer("layer1", 2, true)}}
}

// Example3 is the article's Example 3: two quantized layers, 10 -> 32 -> 10.
func Example3() Model {
	return Model{Input: []int64{10}, Layers: []layers.Layer{articleLayer("layer1", 32, true), articleLayer("layer2", 10, true)}}
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
