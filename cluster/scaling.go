package cluster

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Scaling is a model on paper of one step of synchronous data-parallel
// training with n workers and one ps: each worker reads the weights from
// the ps, computes its shard's loss and gradients, and writes the
// gradients back; on the way, every replica meets the others at each
// barrier (a cross-replica min/max of an activation quantizer's batch
// range, or batch-norm moments), one round trip to the ps each.
//
// The step time of n workers is
//
//	Compute(GlobalBatch/n) + 2 n ParamBytes 8 / Bandwidth + Barriers RoundTrip
//
// The ps's link carries n weight reads and n gradient writes a step; the
// reads come before the compute and the writes after it, so they are
// counted one after the other, as is every barrier (none overlaps
// compute: an upper bound on the step when TensorFlow overlaps some
// transfers with compute). The speedup is against one process without a
// cluster, whose step is Compute(GlobalBatch).
type Scaling struct {
	// Compute is one replica's step time (forward, backward and the
	// update) on a batch of b examples.
	Compute func(b float64) time.Duration
	// GlobalBatch is the examples of a step, split evenly over the workers.
	GlobalBatch int
	// ParamBytes is what a worker reads from the ps each step (the
	// weights) and writes back (their gradients), in bytes.
	ParamBytes int64
	// Bandwidth is the ps link's rate in bits per second (10e9: 10 Gb/s).
	Bandwidth float64
	// RoundTrip is one barrier's round trip between a worker and the ps.
	RoundTrip time.Duration
	// Barriers is how many barriers a step has.
	Barriers int
}

// Estimate is the model's step of a number of workers.
type Estimate struct {
	Workers int
	// Step = Compute + Network + Sync.
	Step, Compute, Network, Sync time.Duration
	// Speedup is the single-process step time over Step.
	Speedup float64
	// ExamplesPerSecond is GlobalBatch / Step.
	ExamplesPerSecond float64
}

// Linear returns a compute time that is fixed plus perExample per example
// of the batch.
func Linear(fixed, perExample time.Duration) func(b float64) time.Duration {
	return func(b float64) time.Duration { return fixed + time.Duration(math.Round(b*float64(perExample))) }
}

// Estimate returns the model's step with the given number of workers.
func (s Scaling) Estimate(workers int) (Estimate, error) {
	switch {
	case s.Compute == nil:
		return Estimate{}, errors.New("scaling: no Compute")
	case workers < 1 || s.GlobalBatch < workers:
		return Estimate{}, fmt.Errorf("scaling: %d workers for a global batch of %d: want 1..%d", workers, s.GlobalBatch, s.GlobalBatch)
	case !(s.Bandwidth > 0) || s.ParamBytes < 0 || s.RoundTrip < 0 || s.Barriers < 0:
		return Estimate{}, fmt.Errorf("scaling: bandwidth %g b/s must be > 0; bytes %d, round trip %v, barriers %d must be >= 0",
			s.Bandwidth, s.ParamBytes, s.RoundTrip, s.Barriers)
	}
	e := Estimate{Workers: workers, Compute: s.Compute(float64(s.GlobalBatch) / float64(workers))}
	bits := 2 * float64(workers) * float64(s.ParamBytes) * 8
	e.Network = time.Duration(math.Round(bits * float64(time.Second) / s.Bandwidth))
	e.Sync = time.Duration(s.Barriers) * s.RoundTrip
	e.Step = e.Compute + e.Network + e.Sync
	if e.Step <= 0 {
		return Estimate{}, fmt.Errorf("scaling: step time %v of %d workers is not positive", e.Step, workers)
	}
	e.Speedup = float64(s.Compute(float64(s.GlobalBatch))) / float64(e.Step)
	e.ExamplesPerSecond = float64(s.GlobalBatch) / e.Step.Seconds()
	return e, nil
}
