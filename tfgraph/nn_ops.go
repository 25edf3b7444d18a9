package tfgraph

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"
)

// Builders for the neural-network ops of the convolutional layers. All work
// on NHWC data. strides and ksize are given as TensorFlow takes them: four
// entries, one per NHWC dimension, with 1 for the batch and channel
// dimensions (e.g. []int64{1, 2, 2, 1} for a 2x2 window or stride); padding
// is "SAME" or "VALID". A wrong length or padding is recorded as the
// graph's error.

// Conv2D adds a 2-D convolution of x [batch, h, w, in] with filter
// [fh, fw, in, out] (dilations 1).
func (g *Graph) Conv2D(name string, x, filter tf.Output, strides []int64, padding string) tf.Output {
	attrs, ok := g.windowAttrs("Conv2D", name, nil, strides, padding)
	if !ok {
		return tf.Output{}
	}
	attrs["dilations"] = []int64{1, 1, 1, 1}
	return g.Op1("Conv2D", name, []any{x, filter}, attrs)
}

// DepthwiseConv2dNative adds a depthwise convolution of x [batch, h, w, in]
// with filter [fh, fw, in, multiplier]; the output has in*multiplier
// channels (dilations 1).
func (g *Graph) DepthwiseConv2dNative(name string, x, filter tf.Output, strides []int64, padding string) tf.Output {
	attrs, ok := g.windowAttrs("DepthwiseConv2dNative", name, nil, strides, padding)
	if !ok {
		return tf.Output{}
	}
	attrs["dilations"] = []int64{1, 1, 1, 1}
	return g.Op1("DepthwiseConv2dNative", name, []any{x, filter}, attrs)
}

// MaxPool adds a max pooling of x over windows of ksize.
func (g *Graph) MaxPool(name string, x tf.Output, ksize, strides []int64, padding string) tf.Output {
	attrs, ok := g.windowAttrs("MaxPool", name, ksize, strides, padding)
	if !ok {
		return tf.Output{}
	}
	return g.Op1("MaxPool", name, []any{x}, attrs)
}

// AvgPool adds an average pooling of x over windows of ksize (with SAME
// padding, each average is over the window's elements inside x).
func (g *Graph) AvgPool(name string, x tf.Output, ksize, strides []int64, padding string) tf.Output {
	attrs, ok := g.windowAttrs("AvgPool", name, ksize, strides, padding)
	if !ok {
		return tf.Output{}
	}
	return g.Op1("AvgPool", name, []any{x}, attrs)
}

// BiasAdd adds bias (one value per channel) to x along its last axis
// (data_format NHWC).
func (g *Graph) BiasAdd(name string, x, bias tf.Output) tf.Output {
	return g.Op1("BiasAdd", name, []any{x, bias}, map[string]any{"data_format": "NHWC"})
}

// Relu6 adds min(max(x, 0), 6).
func (g *Graph) Relu6(name string, x tf.Output) tf.Output { return g.unary("Relu6", name, x) }

// windowAttrs checks and returns the attributes of a windowed NHWC op:
// strides, padding, data_format, and ksize for the pools.
func (g *Graph) windowAttrs(typ, name string, ksize, strides []int64, padding string) (map[string]any, bool) {
	if g.st.err != nil {
		return nil, false
	}
	bad := func(format string, a ...any) (map[string]any, bool) {
		g.SetErr(fmt.Errorf("op %s (%s): %s", g.prefix+name, typ, fmt.Sprintf(format, a...)))
		return nil, false
	}
	if len(strides) != 4 {
		return bad("strides %v: want 4 entries (NHWC)", strides)
	}
	if padding != "SAME" && padding != "VALID" {
		return bad("padding %q: want SAME or VALID", padding)
	}
	attrs := map[string]any{"strides": strides, "padding": padding, "data_format": "NHWC"}
	if typ == "MaxPool" || typ == "AvgPool" {
		if len(ksize) != 4 {
			return bad("ksize %v: want 4 entries (NHWC)", ksize)
		}
		attrs["ksize"] = ksize
	}
	return attrs, true
}

// FusedBatchNormAttrs are the attributes of FusedBatchNormV3.
type FusedBatchNormAttrs struct {
	// Epsilon is added to the variance before its square root.
	Epsilon float32
	// Training normalizes with the batch's statistics; otherwise with the
	// mean and variance inputs.
	Training bool
	// ExponentialAvgFactor f (training only) makes the op's running
	// statistics (1-f)*mean + f*batch_mean and (1-f)*variance +
	// f*batch_variance; 1 (or 0, taken as 1) returns the batch's own.
	ExponentialAvgFactor float32
}

// FusedBatchNormV3 adds TensorFlow's fused batch normalization of x
// [batch, h, w, channels] (NHWC) over its channel axis, with scale, offset,
// mean and variance of one value per channel:
// y = scale * (x - m) / sqrt(v + epsilon) + offset, where m and v are the
// batch's mean and population variance in training and the mean and
// variance inputs in inference. runningMean and runningVar are the op's
// outputs 1 and 2: in training, the exponential averages of the inputs with
// the batch's mean and its variance with Bessel's n/(n-1) correction; in
// inference, the mean and variance inputs.
func (g *Graph) FusedBatchNormV3(name string, x, scale, offset, mean, variance tf.Output, a FusedBatchNormAttrs) (y, runningMean, runningVar tf.Output) {
	f := a.ExponentialAvgFactor
	if f == 0 {
		f = 1
	}
	op := g.Op("FusedBatchNormV3", name, []any{x, scale, offset, mean, variance}, map[string]any{
		"epsilon": a.Epsilon, "exponential_avg_factor": f, "data_format": "NHWC", "is_training": a.Training,
	})
	if op == nil {
		return tf.Output{}, tf.Output{}, tf.Output{}
	}
	return op.Output(0), op.Output(1), op.Output(2)
}

// SparseSoftmaxCrossEntropyWithLogits adds the fused op on logits
// [batch, classes] and int32 or int64 class ids labels [batch]; it returns
// the per-example loss and the backprop (softmax - one_hot(labels)). An id
// outside [0, classes) makes the op fail when it runs.
func (g *Graph) SparseSoftmaxCrossEntropyWithLogits(name string, logits, labels tf.Output) (loss, backprop tf.Output) {
	op := g.Op("SparseSoftmaxCrossEntropyWithLogits", name, []any{logits, labels}, nil)
	if op == nil {
		return tf.Output{}, tf.Output{}
	}
	return op.Output(0), op.Output(1)
}

// SigmoidCrossEntropyWithLogits adds TensorFlow's
// tf.nn.sigmoid_cross_entropy_with_logits, elementwise on float32 logits and
// labels of one shape (its batch size may be unknown), with Python's ops in Python's order:
// max(x, 0) - x * z + log1p(exp(-|x|)), where max(x, 0) and -|x| are two
// Selects on x >= 0 against zeros.
func (g *Graph) SigmoidCrossEntropyWithLogits(name string, logits, labels tf.Output) tf.Output {
	s := g.Scope(name)
	shape, err := ShapeOf(logits)
	if err != nil {
		g.SetErr(fmt.Errorf("op %s: logits: %w", g.prefix+name, err))
		return tf.Output{}
	}
	zeros := s.zerosLike(logits, shape)
	if zeros.Op == nil {
		return tf.Output{}
	}
	cond := s.GreaterEqual("GreaterEqual", logits, zeros)
	relu := s.Select("Select", cond, logits, zeros)
	negAbs := s.Select("Select_1", cond, s.Neg("Neg", logits), logits)
	return s.AddV2("add", s.Sub("sub", relu, s.Mul("mul", logits, labels)), s.Log1p("Log1p", s.Exp("Exp", negAbs)))
}

// zerosLike adds zeros of x's shape as TensorFlow's zeros_like does in a
// graph: a constant when the shape is fully known, else a ZerosLike op
// (a batch of unknown size).
func (g *Graph) zerosLike(x tf.Output, shape []int64) tf.Output {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return g.Op1("ZerosLike", "zeros_like", []any{x}, nil)
		}
		n *= d
	}
	zt, err := NewTensor(shape, make([]float32, n))
	if err != nil {
		g.SetErr(fmt.Errorf("op %szeros_like: %w", g.prefix, err))
		return tf.Output{}
	}
	return g.Const("zeros_like", zt)
}
