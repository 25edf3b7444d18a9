package qat

import (
	"strings"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Rendezvous joins the replicas of a data-parallel training step at each
// quantizer's range update, so that the update sees the whole global
// batch as a single process does: the minimum of the replicas' batch
// minimums and the maximum of their maximums (both exact), widened,
// stored and averaged once.
type Rendezvous interface {
	// Join is called by every replica at the same quantizer, in build
	// order, with the quantizer's op scope relative to the replica's root
	// (e.g. "c1/post_activation_MovingAvgQuantize") and the replica's
	// batch min and max. It returns once every replica has joined, with
	// what update returned: update is called once, in a view of the scope
	// shared by the replicas, with the combined min and max. On failure it
	// records an error in the graph and returns zero Outputs.
	Join(scope string, bmin, bmax tf.Output, update RangeUpdate) (lo, hi tf.Output)
	// Sum is called by every replica at the same point of a layer that
	// needs a statistic of the global batch (a batch norm's moments), in
	// build order, with the op scope relative to the replica's root and
	// the replica's partial sum x (all replicas' of one shape). It returns
	// once every replica has joined, with what combine returned: combine
	// is called once, in a view of the scope shared by the replicas, with
	// the sum of the replicas' x (AddN, in replica order) and the number
	// of replicas. On failure it records an error in the graph and
	// returns the zero Output.
	Sum(scope string, x tf.Output, combine SumCombine) tf.Output
	// Shard returns which replica this is (from 0) and how many there
	// are; replica i takes rows [i*b, (i+1)*b) of a global batch of n*b.
	Shard() (index, n int)
}

// SumCombine builds, in g, what the replicas take from the sum of their
// partial sums over n replicas (e.g. a global mean: sum / (n * rows)).
type SumCombine func(g *tfgraph.Graph, sum tf.Output, n int) tf.Output

// RangeUpdate builds a quantizer's range update in g from the batch range
// [bmin, bmax] and returns the reads of the updated min and max that the
// quantizer's FakeQuant takes.
type RangeUpdate func(g *tfgraph.Graph, bmin, bmax tf.Output) (lo, hi tf.Output)

// Replica returns an Env for one replica of a data-parallel step, built
// in g (the replica's scope and device): it shares e's range variables,
// named without g's prefix, and joins the other replicas at every range
// update through r. Its trainable ranges (Learnable) are the shared
// variables read in g.
func (e *Env) Replica(g *tfgraph.Graph, r Rendezvous) *Env {
	c := *e
	c.Graph, c.root, c.replicas, c.trained = g, g.FullName(""), r, new([]tfgraph.Param)
	return &c
}

// update applies fn, the range update of the quantizer whose ops are in
// s, to the batch range [bmin, bmax]: in s, or once for all replicas.
func (e *Env) update(s *tfgraph.Graph, bmin, bmax tf.Output, fn RangeUpdate) (tf.Output, tf.Output) {
	if e.replicas == nil {
		return fn(s, bmin, bmax)
	}
	return e.replicas.Join(e.relative(s), bmin, bmax, fn)
}

// Replicated reports whether e builds one replica of a data-parallel
// step (Replica), whose layers combine global-batch statistics with Sum.
func (e *Env) Replicated() bool { return e.replicas != nil }

// Shard returns which replica of a data-parallel step e builds and how
// many there are: (0, 1) outside one.
func (e *Env) Shard() (index, n int) {
	if e.replicas == nil {
		return 0, 1
	}
	return e.replicas.Shard()
}

// Sum returns what combine builds, once for all replicas, from the sum
// over the replicas of x, a partial sum built in s (see Rendezvous.Sum).
// Outside a data-parallel step it is combine(s, x, 1).
func (e *Env) Sum(s *tfgraph.Graph, x tf.Output, combine SumCombine) tf.Output {
	if e.replicas == nil {
		return combine(s, x, 1)
	}
	return e.replicas.Sum(e.relative(s), x, combine)
}

// relative is s's op scope without the replica's root.
func (e *Env) relative(s *tfgraph.Graph) string {
	return strings.TrimSuffix(strings.TrimPrefix(s.FullName(""), e.root), "/")
}
