package loop

import (
	"github.com/qat-go/qat/data"
	tf "github.com/wamuir/graft/tensorflow"
)

// batch is a training batch ready to feed: the Batcher position it was
// drawn at, the position after it, and its tensors (or the error making
// them).
type batch struct {
	at, next data.BatchState
	feeds    map[tf.Output]*tf.Tensor
	err      error
}

// prefetcher draws the next batch on its own goroutine while a step runs,
// so the step after it does not wait for gathering and copying. Batches are
// a pure function of the Batcher's seed and position, so a batch drawn
// ahead is the one the step would draw; one drawn at a position the trainer
// has since left (a restore, a diverged step undone) is dropped.
type prefetcher struct {
	look    *data.Batcher // the prefetching goroutine's own copy
	x, y    tf.Output
	pending chan batch // nil when nothing is being drawn
}

func newPrefetcher(b *data.Batcher, x, y tf.Output) *prefetcher {
	return &prefetcher{look: b.Clone(), x: x, y: y}
}

// draw returns the batch at position at, made now.
func (p *prefetcher) draw(at data.BatchState) batch {
	out := batch{at: at}
	if out.err = p.look.SetState(at); out.err != nil {
		return out
	}
	xa, ya := p.look.Next()
	out.next = p.look.State()
	out.feeds, out.err = feedXY(p.x, p.y, xa, ya)
	return out
}

// take returns the batch at position at: the one drawn ahead if it is
// that one, else one drawn now.
func (p *prefetcher) take(at data.BatchState) batch {
	if b, ok := p.wait(); ok {
		if b.at == at {
			return b
		}
		releaseFeeds(b.feeds) // drawn for a position the trainer left
	}
	return p.draw(at)
}

// start draws the batch at position at on a goroutine.
func (p *prefetcher) start(at data.BatchState) {
	if b, ok := p.wait(); ok {
		releaseFeeds(b.feeds)
	}
	c := make(chan batch, 1)
	p.pending = c
	go func() { c <- p.draw(at) }()
}

// wait returns the batch being drawn, if any, once it is ready.
func (p *prefetcher) wait() (batch, bool) {
	if p.pending == nil {
		return batch{}, false
	}
	b := <-p.pending
	p.pending = nil
	return b, true
}
