package layers

import (
	"fmt"

	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// synced is a batch norm in training in one replica of a data-parallel
// step (qat.Env.Replicated), with the moments of the global batch (as
// Keras's SyncBatchNormalization), so the step is that of one process on
// the whole batch up to rounding:
//
//	mean     = sum over replicas of Sum(x) / N
//	variance = sum over replicas of Sum((x - mean)^2) / N
//
// over every axis but the last, N the global count (rows * h * w over all
// replicas); each replica computes its partial sums and the rendezvous
// adds them once, on the variables' device. The output is
// tf.nn.batch_normalization's formula with these moments. The moving
// statistics are updated once, from the global moments, by
// m -= (m - batch) * (1 - momentum); the variance Bessel-corrected by
// N/(N-1) where one process would take the fused path (bessel), whose
// kernel averages the sample variance, else the population variance.
func (n BatchNorm) synced(b *Builder, s *tfgraph.Graph, x tf.Output, v bnVars, decay, eps float32, bessel bool) tf.Output {
	dims, err := tfgraph.ShapeOf(x)
	if err != nil {
		s.SetErr(err)
		return tf.Output{}
	}
	count := int64(1)
	for _, d := range dims[:len(dims)-1] {
		count *= d
	}
	if count <= 0 {
		s.SetErr(fmt.Errorf("data-parallel batch norm needs a static input shape, got %v", dims))
		return tf.Output{}
	}
	axes := make([]int32, len(dims)-1)
	for i := range axes {
		axes[i] = int32(i)
	}
	// global divides the replicas' summed partial sums by N.
	var global qat.SumCombine = func(g *tfgraph.Graph, sum tf.Output, replicas int) tf.Output {
		return g.RealDiv("global", sum, g.Scalar("count", float32(count*int64(replicas))))
	}
	m := s.Scope("moments")
	mean := b.Env.Sum(m.Scope("mean"), m.Sum("Sum", x, axes, false), global)
	sq := m.SquaredDifference("SquaredDifference", x, m.StopGradient("StopGradient", mean))
	variance := b.Env.Sum(m.Scope("variance"), m.Sum("Sum_1", sq, axes, false), func(g *tfgraph.Graph, sum tf.Output, replicas int) tf.Output {
		variance := global(g, sum, replicas)
		if g.Err() != nil {
			return variance
		}
		moving := variance
		if total := count * int64(replicas); bessel && total > 1 {
			moving = g.Mul("bessel", variance, g.Scalar("bessel/factor", float32(float64(total)/float64(total-1))))
		}
		b.updateMoving(g, v.movingMean, "moving_mean", mean, decay, tf.Output{}, variance)
		b.updateMoving(g, v.movingVar, "moving_variance", moving, decay, tf.Output{}, variance)
		return variance
	})
	return b.output(s, n.Name, normalize(s, x, mean, variance, v, eps))
}
