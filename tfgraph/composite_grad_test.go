package tfgraph_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// batchNormCases covers batch normalization both ways Keras runs it:
// FusedBatchNormV3 (4-D input) in training, with and without an
// exponential average of the statistics, and in inference; and the
// non-fused ops of tf.nn.moments + tf.nn.batch_normalization, whose three
// gradient parts at x must be summed in the tape's order.
func batchNormCases(r *rand.Rand, add func(gradCase)) {
	nhwc, c := []int64{2, 5, 5, 3}, []int64{3}
	for _, v := range []struct {
		name     string
		training bool
		factor   float32
		stats    bool // upstream gradients into the running mean and variance too
	}{
		{"train", true, 1, false},
		{"train_avg", true, 0.01, true},
		{"infer", false, 1, false},
		{"infer_stats", false, 1, true},
	} {
		attrs := map[string]any{"epsilon": float32(1e-3), "exponential_avg_factor": v.factor,
			"data_format": "NHWC", "is_training": v.training}
		ups := []*tensorSpec{up(r, nhwc), nil, nil, nil, nil, nil}
		if v.stats {
			ups[1], ups[2] = up(r, c), up(r, c)
		}
		add(gradCase{Name: "FusedBatchNormV3_" + v.name, Op: "FusedBatchNormV3",
			Inputs: []input{x("x", r, nhwc, -2, 2), x("scale", r, c, 0.5, 1.5), x("offset", r, c, -1, 1),
				x("mean", r, c, -0.5, 0.5), x("variance", r, c, 0.5, 2)},
			Attrs: attrs, Upstream: ups, exact: true})
	}
	for _, shape := range [][]int64{{8, 3}, {2, 3, 3, 4}} {
		ch := []int64{shape[len(shape)-1]}
		add(gradCase{Name: fmt.Sprintf("moments_batch_normalization_%v", shape), Op: "moments_batch_normalization",
			Inputs: []input{x("x", r, shape, -2, 2), x("scale", r, ch, 0.5, 1.5), x("offset", r, ch, -1, 1)},
			Attrs:  map[string]any{"epsilon": 1e-3}, Upstream: []*tensorSpec{up(r, shape)}, exact: true,
			goBuild: func(g *tfgraph.Graph, a []tf.Output) []tf.Output {
				return []tf.Output{momentsBatchNorm(g, a[0], a[1], a[2], len(shape), 1e-3)}
			}})
	}
}

// orderCases covers the order in which the parts of a gradient are summed
// where a tensor has three consumers (with two, the sum's order does not
// change its bits): x feeds a Mul, a Square and an Exp, named so that
// their names sort unlike their order as AddN's inputs. The tape queues
// them in input order, and so must Gradients.
func orderCases(r *rand.Rand, add func(gradCase)) {
	s := []int64{6, 5}
	add(gradCase{Name: "fan_out_three", Op: "fan_out_three",
		Inputs: []input{x("x", r, s, -2, 2), x("k", r, s, -2, 2)}, Upstream: []*tensorSpec{up(r, s)}, exact: true,
		goBuild: func(g *tfgraph.Graph, a []tf.Output) []tf.Output {
			return []tf.Output{g.AddN("sum", []tf.Output{
				g.Mul("z_mul", a[0], a[1]), g.Square("a_square", a[0]), g.Op1("Exp", "m_exp", []any{a[0]}, nil)})}
		}})
}

// momentsBatchNorm is training-mode batch normalization from its parts, as
// tf.nn.moments and tf.nn.batch_normalization build it and the BatchNorm
// layer's non-fused path does.
func momentsBatchNorm(g *tfgraph.Graph, x, gamma, beta tf.Output, rank int, eps float32) tf.Output {
	axes := make([]int32, rank-1)
	for i := range axes {
		axes[i] = int32(i)
	}
	mean := g.Mean("mean", x, axes, false)
	variance := g.Mean("variance", g.SquaredDifference("SquaredDifference", x, g.StopGradient("StopGradient", mean)), axes, false)
	inv := g.Mul("mul", g.Rsqrt("Rsqrt", g.AddV2("add", variance, g.Scalar("epsilon", eps))), gamma)
	return g.AddV2("add_1", g.Mul("mul_1", x, inv), g.Sub("sub", beta, g.Mul("mul_2", mean, inv)))
}

// buildCase adds the case's op (or composite) on args and returns its
// outputs.
func buildCase(g *tfgraph.Graph, c gradCase, args []any) ([]tf.Output, error) {
	if c.goBuild != nil {
		var in []tf.Output
		for _, a := range args {
			in = append(in, a.(tf.Output))
		}
		outs := c.goBuild(g, in)
		return outs, g.Err()
	}
	op := g.Op(c.Op, "op", args, c.goAttrs)
	if op == nil {
		return nil, g.Err()
	}
	outs := make([]tf.Output, op.NumOutputs())
	for i := range outs {
		outs[i] = op.Output(i)
	}
	return outs, nil
}
