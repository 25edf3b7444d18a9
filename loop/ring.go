package loop

import (
	"fmt"
	"sync"

	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// ring builds the replicas of a data-parallel step in lock step, one
// goroutine per replica taking turns: replica i builds until it joins a
// quantizer's range update (or finishes), then hands the turn to replica
// i+1. The last replica to join builds the update once, for all of them,
// from the minimum of their batch minimums and the maximum of their
// maximums, and hands the turn back to replica 0. Only the turn holder
// touches the graph, so op names and build order are the same every time.
type ring struct {
	n      int
	turn   []chan struct{}
	shared *tfgraph.Graph // where updates are built (the variables' device)
	mu     sync.Mutex     // guards the fields below (held only by the turn holder)
	joins  []join         // of the round in progress
	result [][2]tf.Output // by round
	done   []bool         // replicas whose build returned
	err    error          // the first failure; every later join fails
}

// join is one replica's arrival at a range update.
type join struct {
	scope      string
	bmin, bmax tf.Output
	update     qat.RangeUpdate
}

func newRing(n int, shared *tfgraph.Graph) *ring {
	r := &ring{n: n, shared: shared, turn: make([]chan struct{}, n), done: make([]bool, n)}
	for i := range r.turn {
		r.turn[i] = make(chan struct{}, 1)
	}
	return r
}

// run builds replica i with build, in turns with the others; it returns
// when build does. Call it from one goroutine per replica.
func (r *ring) run(i int, build func(qat.Rendezvous)) {
	<-r.turn[i]
	build(member{r, i, new(int)})
	r.mu.Lock()
	r.done[i] = true
	if len(r.joins) > 0 && r.err == nil {
		r.err = fmt.Errorf("data-parallel build: replica %d finished while %d replica(s) wait at the range update of %s", i, len(r.joins), r.joins[0].scope)
	}
	r.mu.Unlock()
	r.pass(i)
}

// start gives replica 0 the first turn.
func (r *ring) start() { r.turn[0] <- struct{}{} }

// pass hands the turn to the next replica (after i) still building.
func (r *ring) pass(i int) {
	for k := 1; k <= r.n; k++ {
		j := (i + k) % r.n
		if !r.done[j] {
			r.turn[j] <- struct{}{}
			return
		}
	}
}

// member is one replica's Rendezvous; round counts its joins.
type member struct {
	r     *ring
	i     int
	round *int
}

// Join implements qat.Rendezvous.
func (m member) Join(scope string, bmin, bmax tf.Output, update qat.RangeUpdate) (tf.Output, tf.Output) {
	r := m.r
	round := *m.round
	*m.round++
	r.mu.Lock()
	if r.err != nil {
		r.mu.Unlock()
		r.shared.SetErr(r.err)
		return tf.Output{}, tf.Output{}
	}
	r.joins = append(r.joins, join{scope, bmin, bmax, update})
	last := len(r.joins) == r.n
	if last {
		r.result = append(r.result, r.combine())
		r.joins = nil
	}
	r.mu.Unlock()
	r.pass(m.i)
	<-r.turn[m.i]
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || round >= len(r.result) {
		if r.err == nil {
			r.err = fmt.Errorf("data-parallel build: replica %d waits at %s alone", m.i, scope)
		}
		r.shared.SetErr(r.err)
		return tf.Output{}, tf.Output{}
	}
	return r.result[round][0], r.result[round][1]
}

// combine builds the update of the round whose joins are all in.
func (r *ring) combine() [2]tf.Output {
	first := r.joins[0]
	for i, j := range r.joins[1:] {
		if j.scope != first.scope {
			r.err = fmt.Errorf("data-parallel build: replica %d updates the range of %s where replica 0 updates %s", i+1, j.scope, first.scope)
			r.shared.SetErr(r.err)
			return [2]tf.Output{}
		}
	}
	s := r.shared.Scope(first.scope)
	c := s.Scope("replicas")
	lo, hi := first.bmin, first.bmax
	for _, j := range r.joins[1:] {
		lo = c.Minimum("Minimum", lo, j.bmin)
		hi = c.Maximum("Maximum", hi, j.bmax)
	}
	a, b := first.update(s, lo, hi)
	return [2]tf.Output{a, b}
}
