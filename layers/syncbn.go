package layers

import (
	"fmt"

	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// This file holds batch norm in one replica of a data-parallel training
// step (qat.Env.Replicated): the moments are those of the global batch
// (as Keras's SyncBatchNormalization), so the step is that of one process
// on the whole batch up to rounding, and the moving statistics are
// updated once, on the variables' device.

// globalMoments returns the global batch's mean and population variance
// of x over every axis but the last, as tf.nn.moments would give them in
// one process, from each replica's own moments (its shard is 1/n of the
// global batch):
//
//	mean     = sum over replicas of Mean(x) / n
//	variance = sum over replicas of Mean((x - StopGradient(mean))^2) / n
//
// The rendezvous adds the replicas' moments once, on the variables'
// device. With one replica this is tf.nn.moments bit for bit, gradient
// included (a Sum / N would divide the gradient before it is tiled where
// Mean's gradient divides after, and round differently). done, if not
// nil, is called there once with both and N, the global count (rows * h
// * w over all replicas).
func globalMoments(b *Builder, s *tfgraph.Graph, x tf.Output, done func(g *tfgraph.Graph, mean, variance tf.Output, count int64)) (mean, variance tf.Output) {
	dims, err := tfgraph.ShapeOf(x)
	if err != nil {
		s.SetErr(err)
		return tf.Output{}, tf.Output{}
	}
	count := int64(1)
	for _, d := range dims[:len(dims)-1] {
		count *= d
	}
	if count <= 0 {
		s.SetErr(fmt.Errorf("data-parallel batch norm needs a static input shape, got %v", dims))
		return tf.Output{}, tf.Output{}
	}
	axes := channelAxes(len(dims))
	// global averages the replicas' summed moments.
	var global qat.SumCombine = func(g *tfgraph.Graph, sum tf.Output, replicas int) tf.Output {
		return g.RealDiv("global", sum, g.Scalar("replicas", float32(replicas)))
	}
	m := s.Scope("moments")
	mean = b.Env.Sum(m.Scope("mean"), m.Mean("mean", x, axes, false), global)
	sq := m.SquaredDifference("SquaredDifference", x, m.StopGradient("StopGradient", mean))
	variance = b.Env.Sum(m.Scope("variance"), m.Mean("variance", sq, axes, false), func(g *tfgraph.Graph, sum tf.Output, replicas int) tf.Output {
		variance := global(g, sum, replicas)
		if done != nil && g.Err() == nil {
			done(g, mean, variance, count*int64(replicas))
		}
		return variance
	})
	return mean, variance
}

// synced is a batch norm in training in one replica: normalized with
// globalMoments by tf.nn.batch_normalization's formula. The moving
// statistics are updated once, by m -= (m - batch) * (1 - momentum), the
// variance Bessel-corrected by N/(N-1) where one process would take the
// fused path (bessel), whose kernel averages the sample variance, else
// the population variance.
func (n BatchNorm) synced(b *Builder, s *tfgraph.Graph, x tf.Output, v bnVars, decay, eps float32, bessel bool) tf.Output {
	mean, variance := globalMoments(b, s, x, func(g *tfgraph.Graph, mean, variance tf.Output, total int64) {
		moving := variance
		if bessel && total > 1 {
			moving = g.Mul("bessel", variance, g.Scalar("bessel/factor", float32(float64(total)/float64(total-1))))
		}
		b.updateMoving(g, v.movingMean, "moving_mean", mean, decay, tf.Output{}, variance)
		b.updateMoving(g, v.movingVar, "moving_variance", moving, decay, tf.Output{}, variance)
	})
	return b.output(s, n.Name, normalize(s, x, mean, variance, v, eps))
}

// afterAll calls build once, on the variables' device, with an output
// that is ready only after every replica has computed y: each replica
// contributes a zero that waits for its y, and after is their sum. A folded batch norm's moving statistics are updated so,
// after every replica has read them.
func afterAll(b *Builder, s *tfgraph.Graph, y tf.Output, build func(g *tfgraph.Graph, after tf.Output)) {
	done := s.WithControlDependencies(y.Op).Scalar("done", 0)
	b.Env.Sum(s.Scope("after"), done, func(g *tfgraph.Graph, sum tf.Output, _ int) tf.Output {
		build(g, sum)
		return sum
	})
}
