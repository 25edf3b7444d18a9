package models

import (
	"fmt"
	"slices"
	"strings"

	"github.com/qat-go/qat/layers"
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
	TypeAdd            = "add"
	TypeConcatenate    = "concatenate"
	TypeGlobalAvgPool  = "global_avg_pool"
	TypeZeroPadding2D  = "zero_padding2d"
	TypeDropout        = "dropout"
	TypeReshape        = "reshape"
)

// LayerTypes lists the layer types a config may use.
var LayerTypes = []string{TypeQuantizedDense, TypeDense, TypeConv2D, TypeDepthwise, TypeMaxPool, TypeAvgPool,
	TypeFlatten, TypeReLU, TypeReLU6, TypeBatchNorm, TypeAdd, TypeConcatenate, TypeGlobalAvgPool, TypeZeroPadding2D,
	TypeDropout, TypeReshape}

// pair reads a [h, w] (or [n] meaning [n, n]) setting; empty (omitted) is
// [0, 0], the layer's default (kernel has none). Values given must be > 0.
func pair(what string, v []int) ([2]int, error) {
	for _, n := range v {
		if n <= 0 {
			if what == "kernel" { // no default
				return [2]int{}, fmt.Errorf("%s %v: every value must be > 0", what, v)
			}
			return [2]int{}, fmt.Errorf("%s %v: every value must be > 0 (omit %s for the default)", what, v, what)
		}
	}
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

// layerKeys lists the keys each layer type takes besides type and name.
var layerKeys = map[string][]string{
	TypeQuantizedDense: {"units", "weights", "bias", "output"},
	TypeDense:          {"units", "activation"},
	TypeConv2D:         {"filters", "kernel", "strides", "padding", "activation", "no_bias"},
	TypeDepthwise:      {"multiplier", "kernel", "strides", "padding", "activation", "no_bias"},
	TypeMaxPool:        {"size", "strides", "padding"},
	TypeAvgPool:        {"size", "strides", "padding"},
	TypeFlatten:        nil,
	TypeReLU:           nil,
	TypeReLU6:          nil,
	TypeBatchNorm:      {"momentum", "epsilon", "fused"},
	TypeAdd:            nil,
	TypeConcatenate:    {"axis"},
	TypeGlobalAvgPool:  nil,
	TypeZeroPadding2D:  {"pad"},
	TypeDropout:        {"rate"},
	TypeReshape:        {"shape"},
}

// given lists the keys set in l (besides type and name).
func (l LayerConfig) given() []string {
	var keys []string
	for _, k := range []struct {
		key string
		set bool
	}{
		{"units", l.Units != 0}, {"filters", l.Filters != 0}, {"multiplier", l.Multiplier != 0},
		{"kernel", l.Kernel != nil}, {"strides", l.Strides != nil}, {"size", l.Size != nil},
		{"padding", l.Padding != ""}, {"activation", l.Activation != ""}, {"no_bias", l.NoBias},
		{"momentum", l.Momentum != 0}, {"epsilon", l.Epsilon != 0}, {"fused", l.Fused != nil},
		{"axis", l.Axis != 0}, {"pad", l.Pad != nil}, {"rate", l.Rate != 0}, {"shape", l.Shape != nil},
		{"weights", l.Weights != nil}, {"bias", l.Bias != nil}, {"output", l.Output != nil},
	} {
		if k.set {
			keys = append(keys, k.key)
		}
	}
	return keys
}

// checkKeys returns an error naming the keys set in l that its type does
// not take.
func (l LayerConfig) checkKeys() error {
	typ := l.Type
	if typ == "" {
		typ = TypeQuantizedDense
	}
	takes, known := layerKeys[typ]
	if !known {
		return nil // reported by layer
	}
	var wrong []string
	for _, k := range l.given() {
		if !slices.Contains(takes, k) {
			wrong = append(wrong, k)
		}
	}
	if len(wrong) == 0 {
		return nil
	}
	verb := "does"
	if len(wrong) > 1 {
		verb = "do"
	}
	its := "no keys besides type and name"
	if len(takes) > 0 {
		its = "the keys " + strings.Join(takes, ", ")
	}
	hint := ""
	if l.Type == "" {
		hint = "; give a type for another layer, e.g. type: dense"
	}
	return fmt.Errorf("%s %s not apply to a %s layer (it takes %s%s)", strings.Join(wrong, ", "), verb, typ, its, hint)
}

// layer returns the Layer the config describes.
func (l LayerConfig) layer() (layers.Layer, error) {
	if err := l.checkKeys(); err != nil {
		return nil, err
	}
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
		return layers.ArticleDense{Name: l.Name, Units: l.Units, Weights: l.Weights.quantizer(), Bias: l.Bias.quantizer(), Output: l.Output.quantizer()}, nil
	case TypeDense:
		if l.Units <= 0 {
			return nil, fmt.Errorf("units %d must be > 0", l.Units)
		}
		return layers.Dense{Name: l.Name, Units: l.Units, Activation: l.Activation}, layers.CheckActivation(l.Name, l.Activation)
	case TypeConv2D:
		if l.Filters <= 0 {
			return nil, fmt.Errorf("filters %d must be > 0", l.Filters)
		}
		return layers.Conv2D{Name: l.Name, Filters: l.Filters, Kernel: kernel, Strides: strides, Padding: l.Padding,
			Activation: l.Activation, NoBias: l.NoBias}, needKernel()
	case TypeDepthwise:
		return layers.DepthwiseConv2D{Name: l.Name, Multiplier: l.Multiplier, Kernel: kernel, Strides: strides,
			Padding: l.Padding, Activation: l.Activation, NoBias: l.NoBias}, needKernel()
	case TypeMaxPool:
		return layers.MaxPool{Name: l.Name, Size: size, Strides: strides, Padding: l.Padding}, nil
	case TypeAvgPool:
		return layers.AvgPool{Name: l.Name, Size: size, Strides: strides, Padding: l.Padding}, nil
	case TypeFlatten:
		return layers.Flatten{Name: l.Name}, nil
	case TypeReLU, TypeReLU6:
		return layers.ReLU{Name: l.Name, Max6: l.Type == TypeReLU6}, nil
	case TypeBatchNorm:
		return layers.BatchNorm{Name: l.Name, Momentum: l.Momentum, Epsilon: l.Epsilon, NonFused: l.Fused != nil && !*l.Fused}, nil
	case TypeAdd:
		return layers.Add{Name: l.Name}, nil
	case TypeConcatenate:
		return layers.Concatenate{Name: l.Name, Axis: l.Axis}, nil
	case TypeGlobalAvgPool:
		return layers.GlobalAvgPool{Name: l.Name}, nil
	case TypeZeroPadding2D:
		pad, err := padding4(l.Pad)
		return layers.ZeroPadding2D{Name: l.Name, Pad: pad}, err
	case TypeDropout:
		return layers.Dropout{Name: l.Name, Rate: l.Rate}, nil
	case TypeReshape:
		return layers.Reshape{Name: l.Name, Shape: l.Shape}, nil
	}
	return nil, fmt.Errorf("unknown layer type %q (known: %s)", l.Type, strings.Join(LayerTypes, ", "))
}

// padding4 reads a zero_padding2d pad: [n] (all sides), [h, w] (top and
// bottom, left and right) or [top, bottom, left, right], each >= 0.
func padding4(v []int) ([4]int, error) {
	for _, n := range v {
		if n < 0 {
			return [4]int{}, fmt.Errorf("pad %v: every value must be >= 0", v)
		}
	}
	switch len(v) {
	case 1:
		return [4]int{v[0], v[0], v[0], v[0]}, nil
	case 2:
		return [4]int{v[0], v[0], v[1], v[1]}, nil
	case 4:
		return [4]int{v[0], v[1], v[2], v[3]}, nil
	}
	return [4]int{}, fmt.Errorf("pad %v: give [n], [height, width] or [top, bottom, left, right] (e.g. pad: [1])", v)
}
