package models

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
)

// wiring appends layers to a model and records the inputs of those that
// do not take the layer before them.
type wiring struct {
	m    Model
	last string // the output of the layer listed last (InputName at first)
}

// add appends l, taking from (nil: the layer listed before it), and
// returns l's name.
func (w *wiring) add(l layers.Layer, from ...string) string {
	if len(from) > 0 && !(len(from) == 1 && from[0] == w.last) {
		if w.m.From == nil {
			w.m.From = map[string][]string{}
		}
		w.m.From[l.LayerName()] = from
	}
	w.m.Layers = append(w.m.Layers, l)
	w.last = l.LayerName()
	return w.last
}

// convBN adds Conv2D (no bias) - BatchNorm [- ReLU or ReLU6] on from and
// returns the name of the last layer added.
func (w *wiring) convBN(from, conv, bn, relu string, c layers.Conv2D, max6 bool) string {
	c.Name, c.NoBias, c.Padding = conv, true, "same"
	w.add(c, from)
	w.add(layers.BatchNorm{Name: bn})
	if relu == "" {
		return w.last
	}
	return w.add(layers.ReLU{Name: relu, Max6: max6})
}

// strides returns [s, s], or the zero value (the default) for 1, as a
// config reads them.
func strides(s int) [2]int {
	if s == 1 {
		return [2]int{}
	}
	return [2]int{s, s}
}

// The MobileNetV2 of Keras's applications, as a fact list: a 3x3 conv of
// 32*alpha filters, then stages of inverted residual blocks, each
// {expansion t, filters c, blocks n, stride s of the first block}, then a
// 1x1 conv of mobileNetV2Last filters (more if alpha > 1). On 224x224
// images five convolutions have stride 2 (Conv1 and the stages marked 2
// below); on 28x28 digits only two do, Conv1 and the first block of the
// 32-filter stage (28 -> 14 -> 7), so mobileNetV2Stages keeps the ImageNet
// strides in imagenetStride and uses mnistStride.
var mobileNetV2Stages = []struct {
	expansion, filters, blocks  int
	imagenetStride, mnistStride int
}{
	{1, 16, 1, 1, 1},
	{6, 24, 2, 2, 1},
	{6, 32, 3, 2, 2},
	{6, 64, 4, 2, 1},
	{6, 96, 3, 1, 1},
	{6, 160, 3, 2, 1},
	{6, 320, 1, 1, 1},
}

const (
	mobileNetV2First = 32   // Conv1's filters at alpha 1
	mobileNetV2Last  = 1280 // Conv_1's filters for alpha <= 1
	channelDivisor   = 8    // MobileNet widths are multiples of 8
)

// makeDivisible rounds v to the nearest multiple of divisor (at least
// divisor), one multiple up if that would lose more than 10% of v: Keras's
// rule for MobileNet layer widths.
func makeDivisible(v float64, divisor int) int {
	n := int(v+float64(divisor)/2) / divisor * divisor
	n = max(n, divisor)
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// MobileNetV2 is Keras's MobileNetV2 of width alpha (0.35 for MNIST) for
// 28x28-sized inputs: Conv1 3x3/2 - BN - ReLU6, the 17 inverted residual
// blocks (expand 1x1 conv - BN - ReLU6, depthwise 3x3 - BN - ReLU6,
// project 1x1 conv - BN, and an Add of the block's input when the stride is
// 1 and the channels are equal; the first block has no expansion), Conv_1
// 1x1 - BN - ReLU6, global average pooling and Dense(classes) logits.
// Convolutions have no bias and "same" padding; the widths are Keras's
// (filters*alpha rounded to multiples of 8); only Conv1 and the first
// block of the 32-filter stage have stride 2 (see mobileNetV2Stages).
// Layers are named as in Keras (block_3_expand, block_3_add, ...); batch
// norms take BatchNorm's defaults (momentum 0.99; Keras's MobileNetV2
// uses 0.999, too slow for a short run).
func MobileNetV2(alpha float64, input []int64, classes int, scheme *qat.Scheme) (Model, error) {
	if !(alpha > 0 && alpha <= 4) || math.IsNaN(alpha) {
		return Model{}, fmt.Errorf("mobilenetv2: alpha %g must be in (0, 4]", alpha)
	}
	if classes < 1 {
		return Model{}, fmt.Errorf("mobilenetv2: classes %d must be > 0", classes)
	}
	w := &wiring{m: Model{Input: input, Scheme: scheme}, last: InputName}
	conv := func(filters, kernel, stride int) layers.Conv2D {
		return layers.Conv2D{Filters: filters, Kernel: [2]int{kernel, kernel}, Strides: strides(stride)}
	}
	channels := makeDivisible(mobileNetV2First*alpha, channelDivisor)
	x := w.convBN(InputName, "Conv1", "bn_Conv1", "Conv1_relu", conv(channels, 3, 2), true)
	block := 0
	for _, st := range mobileNetV2Stages {
		out := makeDivisible(float64(int(float64(st.filters)*alpha)), channelDivisor)
		for i := 0; i < st.blocks; i++ {
			stride := 1
			if i == 0 {
				stride = st.mnistStride
			}
			prefix := fmt.Sprintf("block_%d_", block)
			if block == 0 {
				prefix = "expanded_conv_"
			}
			y := x
			if st.expansion != 1 {
				y = w.convBN(y, prefix+"expand", prefix+"expand_BN", prefix+"expand_relu", conv(channels*st.expansion, 1, 1), true)
			}
			w.add(layers.DepthwiseConv2D{Name: prefix + "depthwise", Kernel: [2]int{3, 3}, Strides: strides(stride),
				Padding: "same", NoBias: true}, y)
			w.add(layers.BatchNorm{Name: prefix + "depthwise_BN"})
			y = w.add(layers.ReLU{Name: prefix + "depthwise_relu", Max6: true})
			y = w.convBN(y, prefix+"project", prefix+"project_BN", "", conv(out, 1, 1), false)
			if stride == 1 && channels == out {
				y = w.add(layers.Add{Name: prefix + "add"}, x, y)
			}
			x, channels = y, out
			block++
		}
	}
	last := mobileNetV2Last
	if alpha > 1 {
		last = makeDivisible(mobileNetV2Last*alpha, channelDivisor)
	}
	w.convBN(x, "Conv_1", "Conv_1_bn", "out_relu", conv(last, 1, 1), true)
	w.add(layers.GlobalAvgPool{Name: "global_average_pooling2d"})
	w.add(layers.Dense{Name: "predictions", Units: classes})
	if err := w.m.Validate(); err != nil {
		return Model{}, fmt.Errorf("mobilenetv2: %w", err)
	}
	return w.m, nil
}

// ResNet is the CIFAR ResNet v1 of He et al. (2016), section 4.2, as in
// Keras's CIFAR-10 example: depth = 6n+2 (8, 20, 32, ...), a 3x3 conv of
// 16 filters - BN - ReLU, then three stages of n basic blocks with 16, 32
// and 64 filters (the first block of the second and third stages has
// stride 2), global average pooling and Dense(classes) logits. A basic
// block is conv 3x3 - BN - ReLU - conv 3x3 - BN, added to its input (or,
// where the shape changes, to a 1x1 convolution with bias of it, of the
// block's stride), then ReLU. Convolutions before a BN have no bias; all
// have "same" padding. Layers are named stage<s>_block<b>_<layer>.
func ResNet(depth int, input []int64, classes int, scheme *qat.Scheme) (Model, error) {
	if depth < 8 || (depth-2)%6 != 0 {
		return Model{}, fmt.Errorf("resnet: depth %d must be 6n+2 with n >= 1 (8, 20, 32, ...)", depth)
	}
	if classes < 1 {
		return Model{}, fmt.Errorf("resnet: classes %d must be > 0", classes)
	}
	blocks := (depth - 2) / 6
	w := &wiring{m: Model{Input: input, Scheme: scheme}, last: InputName}
	conv := func(filters, kernel, stride int) layers.Conv2D {
		return layers.Conv2D{Filters: filters, Kernel: [2]int{kernel, kernel}, Strides: strides(stride)}
	}
	filters := 16
	x := w.convBN(InputName, "conv1", "bn1", "relu1", conv(filters, 3, 1), false)
	channels := filters
	for stage := 1; stage <= 3; stage++ {
		for b := 1; b <= blocks; b++ {
			stride := 1
			if stage > 1 && b == 1 {
				stride = 2
			}
			p := fmt.Sprintf("stage%d_block%d_", stage, b)
			y := w.convBN(x, p+"conv1", p+"bn1", p+"relu1", conv(filters, 3, stride), false)
			y = w.convBN(y, p+"conv2", p+"bn2", "", conv(filters, 3, 1), false)
			short := x
			if stride != 1 || channels != filters {
				sc := conv(filters, 1, stride)
				sc.Name, sc.Padding = p+"shortcut", "same"
				short = w.add(sc, x)
			}
			w.add(layers.Add{Name: p + "add"}, short, y)
			x = w.add(layers.ReLU{Name: p + "out"})
			channels = filters
		}
		filters *= 2
	}
	w.add(layers.GlobalAvgPool{Name: "gap"})
	w.add(layers.Dense{Name: "logits", Units: classes})
	if err := w.m.Validate(); err != nil {
		return Model{}, fmt.Errorf("resnet: %w", err)
	}
	return w.m, nil
}
