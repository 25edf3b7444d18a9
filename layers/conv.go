package layers

import (
	"fmt"

	"github.com/qat-go/qat/internal/measure"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Conv2D is Keras's Conv2D on NHWC input, y = act(conv(x, kernel) + bias),
// quantized as tfmot does: the kernel per output channel by default, the
// output after the activation. Variables: "<name>/kernel"
// [kh, kw, in, filters] and, unless NoBias, "<name>/bias" [filters].
// Followed by a BatchNorm in a model with FoldBatchNorm, the pair is built
// folded (see FoldedConvBN).
type Conv2D struct {
	Name       string
	Filters    int
	Kernel     [2]int // kernel height and width
	Strides    [2]int // default 1, 1
	Padding    string // "VALID" (default) or "SAME"
	Activation string
	NoBias     bool
}

// LayerName implements Layer.
func (c Conv2D) LayerName() string { return c.Name }

func (c Conv2D) HasChannels() bool { return true }

// OutputShape implements Layer: [h, w, in] -> [h', w', filters].
func (c Conv2D) OutputShape(in []int64) ([]int64, error) {
	if c.Filters <= 0 {
		return nil, fmt.Errorf("layer %s: filters %d must be > 0", c.Name, c.Filters)
	}
	if err := CheckActivation(c.Name, c.Activation); err != nil {
		return nil, err
	}
	return windowShape(c.Name, "kernel", in, c.Kernel, c.Strides, c.Padding, int64(c.Filters))
}

// Build implements Layer.
func (c Conv2D) Build(b *Builder, x tf.Output) (tf.Output, error) {
	in, err := inputShape(c, x)
	if err != nil {
		return tf.Output{}, err
	}
	g := b.Graph()
	s := g.Scope(c.Name)
	k := b.variable(s, "kernel", []int64{int64(c.Kernel[0]), int64(c.Kernel[1]), in[2], int64(c.Filters)}, tfgraph.GlorotUniform{}, true)
	k = b.weights(s, c.Name, true, k)
	y := s.Conv2D("Conv2D", x, k, strides4(c.Strides), padding(c.Padding))
	if !c.NoBias {
		y = s.BiasAdd("BiasAdd", y, b.variable(s, "bias", []int64{int64(c.Filters)}, tfgraph.Zeros{}, true))
	}
	y = b.output(s, c.Name, activate(s, c.Activation, y))
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", c.Name, err)
	}
	return y, nil
}

// DepthwiseConv2D is Keras's DepthwiseConv2D: each input channel convolved
// with Multiplier filters of its own. Its kernel [kh, kw, in, multiplier]
// is quantized with one range per output channel (in*multiplier of them,
// in TF's output order) — tfmot sizes the ranges by the multiplier
// instead, which is wrong for in > 1 (a scheme with
// TFMOT.DepthwiseRangesByMultiplier does as tfmot). Variables: "<name>/depthwise_kernel",
// "<name>/bias" [in*multiplier].
type DepthwiseConv2D struct {
	Name       string
	Multiplier int // default 1
	Kernel     [2]int
	Strides    [2]int
	Padding    string
	Activation string
	NoBias     bool
}

// LayerName implements Layer.
func (c DepthwiseConv2D) LayerName() string { return c.Name }

func (c DepthwiseConv2D) HasChannels() bool { return true }

func (c DepthwiseConv2D) DepthMultiplier() int64 {
	if c.Multiplier == 0 {
		return 1
	}
	return int64(c.Multiplier)
}

// OutputShape implements Layer: [h, w, in] -> [h', w', in*multiplier].
func (c DepthwiseConv2D) OutputShape(in []int64) ([]int64, error) {
	if c.Multiplier < 0 {
		return nil, fmt.Errorf("layer %s: depth multiplier %d must be > 0", c.Name, c.Multiplier)
	}
	if err := CheckActivation(c.Name, c.Activation); err != nil {
		return nil, err
	}
	if len(in) != 3 {
		return nil, fmt.Errorf("layer %s: input must be [batch, height, width, channels], got [batch %v]", c.Name, in)
	}
	return windowShape(c.Name, "kernel", in, c.Kernel, c.Strides, c.Padding, measure.Mul(in[2], c.DepthMultiplier()))
}

// Build implements Layer.
func (c DepthwiseConv2D) Build(b *Builder, x tf.Output) (tf.Output, error) {
	in, err := inputShape(c, x)
	if err != nil {
		return tf.Output{}, err
	}
	g := b.Graph()
	s := g.Scope(c.Name)
	kh, kw, m := int64(c.Kernel[0]), int64(c.Kernel[1]), c.DepthMultiplier()
	kshape := []int64{kh, kw, in[2], m}
	k := b.variable(s, "depthwise_kernel", kshape, tfgraph.GlorotUniform{}, true)
	if q := b.weightQuantizer(c.Name, true); q != nil {
		if b.Scheme.Compat().DepthwiseRangesByMultiplier {
			// tfmot's ranges: along the kernel's last axis, the multiplier.
			k = b.Quantize(s, q, "kernel", k)
		} else {
			// One range per output channel: view the kernel as
			// [kh, kw, 1, in*m], whose last axis is the output channel order.
			flat := s.Reshape("kernel_channels", k, []int64{kh, kw, 1, in[2] * m})
			k = s.Reshape("kernel_quantized", b.Quantize(s, q, "kernel", flat), kshape)
		}
	}
	y := s.DepthwiseConv2dNative("depthwise", x, k, strides4(c.Strides), padding(c.Padding))
	if !c.NoBias {
		y = s.BiasAdd("BiasAdd", y, b.variable(s, "bias", []int64{in[2] * m}, tfgraph.Zeros{}, true))
	}
	y = b.output(s, c.Name, activate(s, c.Activation, y))
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", c.Name, err)
	}
	return y, nil
}

// windowShape checks an NHWC input against a window (what: "kernel" or
// "size") and returns the output shape with the given channel count.
func windowShape(name, what string, in []int64, kernel, strides [2]int, pad string, channels int64) ([]int64, error) {
	if len(in) != 3 || in[0] <= 0 || in[1] <= 0 || in[2] <= 0 {
		return nil, fmt.Errorf("layer %s: input must be [batch, height, width, channels], got [batch %v]", name, in)
	}
	if kernel[0] <= 0 || kernel[1] <= 0 {
		return nil, fmt.Errorf("layer %s: %s %v must be > 0", name, what, kernel)
	}
	st := strides
	if st == [2]int{} {
		st = [2]int{1, 1}
	}
	if st[0] <= 0 || st[1] <= 0 {
		return nil, fmt.Errorf("layer %s: strides %v must be > 0", name, strides)
	}
	out := make([]int64, 3)
	for i := 0; i < 2; i++ {
		switch padding(pad) {
		case "VALID":
			if in[i] < int64(kernel[i]) {
				return nil, fmt.Errorf("layer %s: input %v is smaller than the %v window", name, in[:2], kernel)
			}
			out[i] = (in[i]-int64(kernel[i]))/int64(st[i]) + 1
		case "SAME":
			out[i] = (in[i] + int64(st[i]) - 1) / int64(st[i])
		default:
			return nil, fmt.Errorf("layer %s: padding %q (want VALID or SAME)", name, pad)
		}
	}
	out[2] = channels
	return out, nil
}

func padding(p string) string {
	switch p {
	case "", "valid", "VALID":
		return "VALID"
	case "same", "SAME":
		return "SAME"
	}
	return p
}

func strides4(s [2]int) []int64 {
	if s == [2]int{} {
		s = [2]int{1, 1}
	}
	return []int64{1, int64(s[0]), int64(s[1]), 1}
}
