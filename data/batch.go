package data

import (
	"fmt"
	"math/rand/v2"
)

// Len returns the number of examples of d, the first dimension of X (0 when X
// has no shape).
func (d Dataset) Len() int {
	if len(d.X.Shape) == 0 {
		return 0
	}
	return int(d.X.Shape[0])
}

// Slice returns the examples from (inclusive) to to (exclusive) of d, for
// example to evaluate a large set in chunks. Any rank is accepted: X is
// [N, ...] and Y is [N, ...]. The result shares its data with d (no copy);
// its capacity is capped so that appending to it cannot change d.
func (d Dataset) Slice(from, to int) (Dataset, error) {
	xRow, yRow, err := d.rowSizes()
	if err != nil {
		return Dataset{}, fmt.Errorf("data: slice: %w", err)
	}
	if n := d.Len(); from < 0 || to > n || from >= to {
		return Dataset{}, fmt.Errorf("data: slice [%d, %d) of %d examples: need 0 <= from < to <= %d", from, to, n, n)
	}
	return Dataset{
		X: Array{Shape: rowShape(d.X.Shape, to-from), Data: d.X.Data[from*xRow : to*xRow : to*xRow]},
		Y: Array{Shape: rowShape(d.Y.Shape, to-from), Data: d.Y.Data[from*yRow : to*yRow : to*yRow]},
	}, nil
}

// rowSizes checks that X and Y hold the same number (> 0) of examples, that
// their dimensions are > 0 and that their data fit their shapes, and returns
// the number of values of one example of X and of Y.
func (d Dataset) rowSizes() (xRow, yRow int, err error) {
	if xRow, err = arrayRowSize("x", d.X); err != nil {
		return 0, 0, err
	}
	if yRow, err = arrayRowSize("y", d.Y); err != nil {
		return 0, 0, err
	}
	if d.X.Shape[0] != d.Y.Shape[0] {
		return 0, 0, fmt.Errorf("x has %d examples and y has %d; need the same", d.X.Shape[0], d.Y.Shape[0])
	}
	return xRow, yRow, nil
}

// arrayRowSize checks a of shape [N, ...] with all dimensions > 0 and returns
// the product of its dimensions after the first.
func arrayRowSize(name string, a Array) (int, error) {
	if len(a.Shape) == 0 {
		return 0, fmt.Errorf("%s has no shape; need [N, ...]", name)
	}
	// The running product stays <= len(a.Data) (checked by division before
	// each step), so it cannot overflow.
	size := 1
	for _, d := range a.Shape {
		if d <= 0 {
			return 0, fmt.Errorf("%s has shape %v; need every dimension > 0", name, a.Shape)
		}
		if d > int64(len(a.Data)/size) {
			return 0, fmt.Errorf("%s has %d values, too few for its shape %v", name, len(a.Data), a.Shape)
		}
		size *= int(d)
	}
	if size != len(a.Data) {
		return 0, fmt.Errorf("%s has %d values, its shape %v needs %d", name, len(a.Data), a.Shape, size)
	}
	return size / int(a.Shape[0]), nil
}

// rowShape is shape with its first dimension replaced by n, in a new slice.
func rowShape(shape []int64, n int) []int64 {
	out := append([]int64(nil), shape...)
	out[0] = int64(n)
	return out
}

// BatchState is the position of a Batcher, for checkpoints: the next batch
// Next returns is batch Index (0-based, < StepsPerEpoch) of epoch Epoch
// (0-based).
type BatchState struct {
	Epoch, Index int
}

// Batcher yields mini-batches of a Dataset in an order fixed by a seed: each
// epoch is a fresh permutation drawn from PCG(seed, epoch).
//
// Because the order of an epoch depends only on the seed and the epoch
// number, a Batcher restored with SetState continues bit-exactly. A Batcher
// reads the Dataset it was made from, which must not change while it is in
// use; it is not safe for concurrent use.
type Batcher struct {
	d          Dataset
	batch      int
	seed       uint64
	steps      int
	xRow, yRow int
	state      BatchState
	perm       []int // the order of epoch permEpoch
	permEpoch  int   // -1 until perm is drawn
}

// NewBatcher returns a Batcher over d with batchSize examples per batch,
// starting at epoch 0, batch 0. X and Y may have any rank >= 1 with the
// examples along the first dimension. It fails if d is empty or inconsistent
// (X and Y with different numbers of examples, data not fitting the shapes)
// or if batchSize is not in [1, N].
func NewBatcher(d Dataset, batchSize int, seed uint64) (*Batcher, error) {
	xRow, yRow, err := d.rowSizes()
	if err != nil {
		return nil, fmt.Errorf("batcher: %w", err)
	}
	n := d.Len()
	if batchSize <= 0 || batchSize > n {
		return nil, fmt.Errorf("batcher: batch size %d: need 1 <= batch size <= %d (the number of examples)", batchSize, n)
	}
	return &Batcher{
		d:         d,
		batch:     batchSize,
		seed:      seed,
		steps:     n / batchSize,
		xRow:      xRow,
		yRow:      yRow,
		permEpoch: -1,
	}, nil
}

// Clone returns a Batcher over the same data, batch size and seed at the
// same position, which may be used on another goroutine than b.
func (b *Batcher) Clone() *Batcher {
	c := *b
	return &c
}

// StepsPerEpoch returns the number of full batches in an epoch, N / batch
// size (as Keras's steps_per_epoch); the examples left over in an epoch's
// order are not used in that epoch.
func (b *Batcher) StepsPerEpoch() int { return b.steps }

// State returns the position of the next batch.
func (b *Batcher) State() BatchState { return b.state }

// SetState moves the Batcher to the position s, as returned by State (of this
// Batcher or of another with the same data, batch size and seed). It fails
// if s.Epoch < 0 or s.Index is not in [0, StepsPerEpoch).
func (b *Batcher) SetState(s BatchState) error {
	if s.Epoch < 0 || s.Index < 0 || s.Index >= b.steps {
		return fmt.Errorf("batcher: state epoch %d, index %d: need epoch >= 0 and 0 <= index < %d (steps per epoch)", s.Epoch, s.Index, b.steps)
	}
	b.state = s
	return nil
}

// Next returns the next full batch, x [batch, X.Shape[1:]...] and
// y [batch, Y.Shape[1:]...], in new slices, and advances the position; after
// the last batch of an epoch it moves to batch 0 of the next epoch.
func (b *Batcher) Next() (x, y Array) {
	e := b.state.Epoch
	if b.permEpoch != e {
		rng := rand.New(rand.NewPCG(b.seed, uint64(e)))
		b.perm = rng.Perm(b.d.Len())
		b.permEpoch = e
	}
	idx := b.perm[b.state.Index*b.batch : (b.state.Index+1)*b.batch]
	x = Array{Shape: rowShape(b.d.X.Shape, b.batch), Data: make([]float32, b.batch*b.xRow)}
	y = Array{Shape: rowShape(b.d.Y.Shape, b.batch), Data: make([]float32, b.batch*b.yRow)}
	for i, j := range idx {
		copy(x.Data[i*b.xRow:(i+1)*b.xRow], b.d.X.Data[j*b.xRow:(j+1)*b.xRow])
		copy(y.Data[i*b.yRow:(i+1)*b.yRow], b.d.Y.Data[j*b.yRow:(j+1)*b.yRow])
	}
	b.state.Index++
	if b.state.Index == b.steps {
		b.state = BatchState{Epoch: e + 1}
	}
	return x, y
}
