package models

import (
	"fmt"
	"strings"
)

// Layer types in configs.
const (
	TypeQuantizedDense = "quantized_dense" // the article's layer (the default)
	TypeDense          = "dense"
	TypeConv2D         = "conv2d"
	TypeDepthwise      = "depthwise_conv2d"
	TypeMaxPool        = "max_pool"
	TypeAvgPool        = "avg_pool"
	TypeFlatten        = "flatten"
	TypeReLU           = "relu"
	TypeReLU6          = "relu6"
	TypeBatchNorm      = "batch_norm"
)

// LayerTypes lists the layer types a config may use.
var LayerTypes = []string{TypeQuantizedDense, TypeDense, TypeConv2D, TypeDepthwise, TypeMaxPool, TypeAvgPool,
	TypeFlatten, TypeReLU, TypeReLU6, TypeBatchNorm}

// pair reads a [h, w] (or [n] meaning [n, n]) setting; empty is [0, 0].
func pair(what string, v []int) ([2]int, error) {
	switch len(v) {
	case 0:
		return [2]int{}, nil
	case 1:
		return [2]int{v[0], v[0]}, nil
	case 2:
		return [2]int{v[0], v[1]}, nil
	}
	return [2]int{}, fmt.Errorf("%s %v: give [n] or [height, width]", what, v)
}

// layer returns the Layer the config describes.
func (l LayerConfig) layer() (Layer, error) {
	kernel, err := pair("kernel", l.Kernel)
	if err != nil {
		return nil, err
	}
	strides, err := pair("strides", l.Strides)
	if err != nil {
		return nil, err
	}
	size, err := pair("size", l.Size)
	if err != nil {
		return nil, err
	}
	needKernel := func() error {
		if kernel == [2]int{} {
			return fmt.Errorf("kernel is missing (e.g. kernel: [3, 3])")
		}
		return nil
	}
	switch l.Type {
	case TypeQuantizedDense, "":
		if l.Activation != "" || l.Filters != 0 || l.Kernel != nil {
			return nil, fmt.Errorf("activation, filters and kernel do not apply to a quantized_dense layer (give a type, e.g. type: dense)")
		}
		if l.Units <= 0 {
			return nil, fmt.Errorf("units %d must be > 0", l.Units)
		}
		for _, q := range []struct {
			what string
			q    *QuantizerConfig
		}{{"weights", l.Weights}, {"bias", l.Bias}, {"output", l.Output}} {
			if q.q == nil {
				continue
			}
			if err := q.q.Validate(); err != nil {
				return nil, fmt.Errorf("%s quantizer: %w", q.what, err)
			}
		}
		return ArticleDense{Name: l.Name, Units: l.Units, Weights: l.Weights.quantizer(), Bias: l.Bias.quantizer(), Output: l.Output.quantizer()}, nil
	case TypeDense:
		if l.Units <= 0 {
			return nil, fmt.Errorf("units %d must be > 0", l.Units)
		}
		return Dense{Name: l.Name, Units: l.Units, Activation: l.Activation}, checkActivation(l.Name, l.Activation)
	case TypeConv2D:
		if l.Filters <= 0 {
			return nil, fmt.Errorf("filters %d must be > 0", l.Filters)
		}
		return Conv2D{Name: l.Name, Filters: l.Filters, Kernel: kernel, Strides: strides, Padding: l.Padding,
			Activation: l.Activation, NoBias: l.NoBias}, needKernel()
	case TypeDepthwise:
		return DepthwiseConv2D{Name: l.Name, Multiplier: l.Multiplier, Kernel: kernel, Strides: strides,
			Padding: l.Padding, Activation: l.Activation, NoBias: l.NoBias}, needKernel()
	case TypeMaxPool:
		return MaxPool{Name: l.Name, Size: size, Strides: strides, Padding: l.Padding}, nil
	case TypeAvgPool:
		return AvgPool{Name: l.Name, Size: size, Strides: strides, Padding: l.Padding}, nil
	case TypeFlatten:
		return Flatten{Name: l.Name}, nil
	case TypeReLU, TypeReLU6:
		return ReLU{Name: l.Name, Max6: l.Type == TypeReLU6}, nil
	case TypeBatchNorm:
		return BatchNorm{Name: l.Name, Momentum: l.Momentum, Epsilon: l.Epsilon}, nil
	}
	return nil, fmt.Errorf("unknown layer type %q (known: %s)", l.Type, strings.Join(LayerTypes, ", "))
}
