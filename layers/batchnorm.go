package layers

import (
	"fmt"
	"math"
	"strings"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Keras's BatchNormalization defaults.
const (
	DefaultBNMomentum = 0.99
	DefaultBNEpsilon  = 1e-3
)

// BatchNorm is batch normalization over the last axis, built as tf_keras
// builds BatchNormalization: in training, y = gamma * (x - mean_B) /
// sqrt(var_B + eps) + beta with the batch's statistics, which also move the
// running ones by 1 - momentum; in inference, the running ones.
//
// On 4-D input [batch, h, w, c] it is Keras's fused path: FusedBatchNormV3,
// whose kernel also averages the moving statistics (the variance with the
// batch's n/(n-1)-corrected sample variance), then AssignVariableOps. On
// other ranks it is the non-fused path: tf.nn.moments and
// tf.nn.batch_normalization, and m -= (m - batch) * (1 - momentum) with
// the population variance.
// Variables: "<name>/gamma", "beta", "moving_mean", "moving_variance".
type BatchNorm struct {
	Name     string
	Momentum float64 // DefaultBNMomentum if 0
	Epsilon  float64 // DefaultBNEpsilon if 0
	// NonFused takes the non-fused path on 4-D input too, as Keras's
	// fused=False. Its float arithmetic is the more accurate: the fused
	// CPU kernel's batch variance is off by ~1e-5 relative where
	// tf.nn.moments' is off by ~1e-6.
	NonFused bool
}

func (n BatchNorm) params() (momentum, eps float32) {
	m, e := n.Momentum, n.Epsilon
	if m == 0 {
		m = DefaultBNMomentum
	}
	if e == 0 {
		e = DefaultBNEpsilon
	}
	return float32(1 - m), float32(e)
}

// LayerName implements Layer.
func (n BatchNorm) LayerName() string { return n.Name }

// OutputShape implements Layer.
func (n BatchNorm) OutputShape(in []int64) ([]int64, error) {
	if !(n.Momentum >= 0 && n.Momentum < 1) {
		return nil, fmt.Errorf("layer %s: momentum %g must be in [0, 1) (0: the default, %g)", n.Name, n.Momentum, DefaultBNMomentum)
	}
	if !(n.Epsilon >= 0 && n.Epsilon <= math.MaxFloat32) {
		return nil, fmt.Errorf("layer %s: epsilon %g must be finite and >= 0 (0: the default, %g)", n.Name, n.Epsilon, DefaultBNEpsilon)
	}
	if len(in) == 0 || in[len(in)-1] <= 0 {
		return nil, fmt.Errorf("layer %s: input [batch %v] has no channel axis", n.Name, in)
	}
	return in, nil
}

// bnVars are a batch norm's variables, read.
type bnVars struct {
	gamma, beta, mean, variance tf.Output
	movingMean, movingVar       *tfgraph.Variable
}

func (n BatchNorm) variables(b *Builder, s *tfgraph.Graph, channels int64) bnVars {
	c := []int64{channels}
	v := bnVars{
		gamma:    b.variable(s, "gamma", c, tfgraph.Constant{C: 1}, true),
		beta:     b.variable(s, "beta", c, tfgraph.Zeros{}, true),
		mean:     b.variable(s, "moving_mean", c, tfgraph.Zeros{}, false),
		variance: b.variable(s, "moving_variance", c, tfgraph.Constant{C: 1}, false),
	}
	root := b.Env.Graph.FullName("")
	v.movingMean = b.vars[strings.TrimPrefix(s.FullName("moving_mean"), root)]
	v.movingVar = b.vars[strings.TrimPrefix(s.FullName("moving_variance"), root)]
	return v
}

// moments returns the batch mean and (population) variance of x over every
// axis but the last, as tf.nn.moments, under the scope "moments" as Keras
// names them (see unfused for why the names matter).
func moments(s *tfgraph.Graph, x tf.Output, rank int) (mean, variance tf.Output) {
	axes := channelAxes(rank)
	s = s.Scope("moments")
	mean = s.Mean("mean", x, axes, false)
	variance = s.Mean("variance", s.SquaredDifference("SquaredDifference", x, s.StopGradient("StopGradient", mean)), axes, false)
	return mean, variance
}

// channelAxes are the axes a batch norm's moments reduce over for input
// of the given rank: every axis but the last (the channels).
func channelAxes(rank int) []int32 {
	axes := make([]int32, rank-1)
	for i := range axes {
		axes[i] = int32(i)
	}
	return axes
}

// updateMoving adds m -= (m - batch) * (1 - momentum) * on (on may be the
// zero Output: always) to the builder's update ops. The update waits for
// after, so a forward pass that reads m sees the value before the update.
func (b *Builder) updateMoving(s *tfgraph.Graph, v *tfgraph.Variable, name string, batch tf.Output, decay float32, on, after tf.Output) {
	s = s.WithControlDependencies(after.Op)
	delta := s.Mul(name+"/mul", s.Sub(name+"/sub", v.Read(s, name+"/read"), batch), s.Scalar(name+"/decay", decay))
	if on != (tf.Output{}) {
		delta = s.Mul(name+"/active", delta, on)
	}
	b.updates = append(b.updates, v.AssignSub(s, name+"/AssignMovingAvg", delta))
}

// Build implements Layer.
func (n BatchNorm) Build(b *Builder, x tf.Output) (tf.Output, error) {
	in, err := inputShape(n, x)
	if err != nil {
		return tf.Output{}, err
	}
	g := b.Graph()
	s := g.Scope(n.Name)
	decay, eps := n.params()
	v := n.variables(b, s, in[len(in)-1])
	var y tf.Output
	if b.Env.Training && b.Env.Replicated() {
		y = n.synced(b, s, x, v, decay, eps, len(in) == 3 && !n.NonFused)
	} else if len(in) == 3 && !n.NonFused {
		y = n.fused(b, s, x, v, decay, eps)
	} else {
		y = n.unfused(b, s, x, v, decay, eps, len(in)+1)
	}
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", n.Name, err)
	}
	return y, nil
}

// fused is Keras's path for 4-D input. In training the kernel's
// exponential average (factor 1 - momentum) gives the new moving
// statistics, which are assigned after it; the moving variance so follows
// the batch's sample variance (Bessel-corrected by the kernel, which Keras
// does not undo) where the non-fused path uses the population variance.
func (n BatchNorm) fused(b *Builder, s *tfgraph.Graph, x tf.Output, v bnVars, decay, eps float32) tf.Output {
	a := tfgraph.FusedBatchNormAttrs{Epsilon: eps}
	if b.Env.Training {
		a.Training, a.ExponentialAvgFactor = true, decay
	}
	y, mean, variance := s.FusedBatchNormV3("FusedBatchNormV3", x, v.gamma, v.beta, v.mean, v.variance, a)
	y = b.output(s, n.Name, y)
	if b.Env.Training && s.Err() == nil {
		b.updates = append(b.updates,
			v.movingMean.Assign(s, "moving_mean/AssignNewValue", mean),
			v.movingVar.Assign(s, "moving_variance/AssignNewValue", variance))
	}
	return y
}

// unfused is Keras's path for other ranks: the ops of tf.nn.moments and
// tf.nn.batch_normalization, and the moving statistics updated by
// AssignSub after the output.
//
// The ops are named as Keras names them ("moments/...", "batchnorm/...")
// because in graph mode the names decide how x's gradient is summed:
// Grappler's arithmetic optimizer sorts the inputs of commutative ops such
// as AddN by name, and AddN adds its inputs in order. x's gradient has
// three parts, through batchnorm/mul_1, moments/SquaredDifference and
// moments/mean; with Keras's names (and so with these, under
// gradients/<op name>/) they are summed in that order. Other names give
// another order, other rounding and, in training, a different d1/bias (whose
// true gradient before a batch norm is 0, so its computed one is all noise).
func (n BatchNorm) unfused(b *Builder, s *tfgraph.Graph, x tf.Output, v bnVars, decay, eps float32, rank int) tf.Output {
	mean, variance := v.mean, v.variance
	if b.Env.Training {
		mean, variance = moments(s, x, rank)
	}
	y := b.output(s, n.Name, normalize(s, x, mean, variance, v, eps))
	if b.Env.Training && s.Err() == nil {
		b.updateMoving(s, v.movingMean, "moving_mean", mean, decay, tf.Output{}, y)
		b.updateMoving(s, v.movingVar, "moving_variance", variance, decay, tf.Output{}, y)
	}
	return y
}

// normalize is tf.nn.batch_normalization's formula, as Keras names its
// ops: x * inv + (beta - mean * inv), inv = gamma / sqrt(variance + eps).
func normalize(s *tfgraph.Graph, x, mean, variance tf.Output, v bnVars, eps float32) tf.Output {
	bn := s.Scope("batchnorm")
	inv := bn.Mul("mul", bn.Rsqrt("Rsqrt", bn.AddV2("add", variance, bn.Scalar("epsilon", eps))), v.gamma)
	return bn.AddV2("add_1", bn.Mul("mul_1", x, inv), bn.Sub("sub", v.beta, bn.Mul("mul_2", mean, inv)))
}

// FoldedConvBN is a Conv2D (without bias) and the BatchNorm after it,
// trained as one folded convolution the way TF1's tf.contrib.quantize did,
// so the weights that get fake-quantized are the ones inference will use:
//
//	w_fold = w * gamma / sigma_M            (sigma = sqrt(var + eps))
//	y = conv(x, q(w_fold)) * c + bias
//	training:  c = sigma_M / sigma_B, bias = beta - gamma * mean_B / sigma_B
//	inference (and after Schedule.FreezeBNAfter):
//	           c = 1,               bias = beta - gamma * mean_M / sigma_M
//
// where _B are the statistics of the float conv(x, w) over the batch and
// _M the moving ones. Without quantization the training output equals
// BatchNorm(Conv2D(x)) with batch statistics. Variables are the two
// layers' own, so weights move freely between the folded and unfolded
// model.
type FoldedConvBN struct {
	Conv Conv2D
	BN   BatchNorm
}

// LayerName implements Layer.
func (f FoldedConvBN) LayerName() string { return f.Conv.Name }

func (f FoldedConvBN) HasChannels() bool { return true }

// OutputShape implements Layer.
func (f FoldedConvBN) OutputShape(in []int64) ([]int64, error) {
	if !f.Conv.NoBias {
		return nil, fmt.Errorf("layer %s: a convolution folded with batch norm %s must have no bias", f.Conv.Name, f.BN.Name)
	}
	out, err := f.Conv.OutputShape(in)
	if err != nil {
		return nil, err
	}
	return f.BN.OutputShape(out)
}

// Build implements Layer.
func (f FoldedConvBN) Build(b *Builder, x tf.Output) (tf.Output, error) {
	in, err := inputShape(f, x)
	if err != nil {
		return tf.Output{}, err
	}
	c := f.Conv
	g := b.Graph()
	s := g.Scope(c.Name)
	k := b.variable(s, "kernel", []int64{int64(c.Kernel[0]), int64(c.Kernel[1]), in[2], int64(c.Filters)}, tfgraph.GlorotUniform{}, true)
	bs := g.Scope(f.BN.Name)
	decay, eps := f.BN.params()
	v := f.BN.variables(b, bs, int64(c.Filters))
	fs := s.Scope("fold")
	epsC := fs.Scalar("epsilon", eps)
	sigmaM := fs.Sqrt("sigma_moving", fs.AddV2("add", v.variance, epsC))
	wFold := fs.Mul("w_fold", k, fs.RealDiv("scale", v.gamma, sigmaM))
	wq := b.weights(s, c.Name, true, wFold)
	y := s.Conv2D("Conv2D", x, wq, strides4(c.Strides), padding(c.Padding))
	biasM := fs.Sub("bias_moving", v.beta, fs.RealDiv("mean_scaled", fs.Mul("gamma_mean", v.gamma, v.mean), sigmaM))
	if b.Env.Training {
		raw := fs.Conv2D("Conv2D_float", x, k, strides4(c.Strides), padding(c.Padding))
		var mean, variance tf.Output
		if b.Env.Replicated() { // the global batch's (syncbn.go)
			mean, variance = globalMoments(b, fs, raw, nil)
		} else {
			mean, variance = moments(fs, raw, 4)
		}
		var on tf.Output
		if k := b.Env.Schedule.FreezeBNAfter; k > 0 {
			on = b.Env.Before(fs, "bn_active", k)
		}
		sigmaB := fs.Sqrt("sigma_batch", fs.AddV2("add_1", variance, epsC))
		corr := fs.RealDiv("correction", sigmaM, sigmaB)
		biasB := fs.Sub("bias_batch", v.beta, fs.RealDiv("mean_scaled_1", fs.Mul("gamma_mean_1", v.gamma, mean), sigmaB))
		if on != (tf.Output{}) {
			off := fs.Sub("bn_frozen", fs.Scalar("one", 1), on)
			corr = fs.AddV2("correction_sched", fs.Mul("corr_on", on, corr), off)
			biasB = fs.AddV2("bias_sched", fs.Mul("bias_on", on, biasB), fs.Mul("bias_off", off, biasM))
		}
		y = s.AddV2("add", s.Mul("correct", y, corr), biasB)
		y = b.output(s, c.Name, activate(s, c.Activation, y))
		if g.Err() == nil && b.Env.Replicated() { // once, after every replica read them
			afterAll(b, bs, y, func(g *tfgraph.Graph, after tf.Output) {
				var on tf.Output
				if k := b.Env.Schedule.FreezeBNAfter; k > 0 {
					on = b.Env.Before(g, "bn_active", k)
				}
				b.updateMoving(g, v.movingMean, "moving_mean", mean, decay, on, after)
				b.updateMoving(g, v.movingVar, "moving_variance", variance, decay, on, after)
			})
		} else if g.Err() == nil { // the forward pass read the moving statistics first
			b.updateMoving(bs, v.movingMean, "moving_mean", mean, decay, on, y)
			b.updateMoving(bs, v.movingVar, "moving_variance", variance, decay, on, y)
		}
	} else {
		y = s.AddV2("add", y, biasM)
		y = b.output(s, c.Name, activate(s, c.Activation, y))
	}
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s+%s: %w", c.Name, f.BN.Name, err)
	}
	return y, nil
}
