package qat

import (
	"fmt"
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
}

// RangeUpdate builds a quantizer's range update in g from the batch range
// [bmin, bmax] and returns the reads of the updated min and max that the
// quantizer's FakeQuant takes.
type RangeUpdate func(g *tfgraph.Graph, bmin, bmax tf.Output) (lo, hi tf.Output)

// Replica returns an Env for one replica of a data-parallel step, built
// in g (the replica's scope and device): it shares e's range variables,
// named without g's prefix, and joins the other replicas at every range
// update through r.
func (e *Env) Replica(g *tfgraph.Graph, r Rendezvous) *Env {
	c := *e
	c.Graph, c.root, c.replicas = g, g.FullName(""), r
	return &c
}

// update applies fn, the range update of the quantizer whose ops are in
// s, to the batch range [bmin, bmax]: in s, or once for all replicas.
func (e *Env) update(s *tfgraph.Graph, bmin, bmax tf.Output, fn RangeUpdate) (tf.Output, tf.Output) {
	if e.replicas == nil {
		return fn(s, bmin, bmax)
	}
	scope := strings.TrimSuffix(strings.TrimPrefix(s.FullName(""), e.root), "/")
	return e.replicas.Join(scope, bmin, bmax, fn)
}

// replicated reports (and records as the graph's error) that quantizer
// name has no data-parallel form.
func (e *Env) replicated(name, kind string) bool {
	if e.replicas == nil {
		return false
	}
	e.Graph.SetErr(fmt.Errorf("quantizer %s: %s ranges are not supported in data-parallel training", e.Graph.FullName(name), kind))
	return true
}
