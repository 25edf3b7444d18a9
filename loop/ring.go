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
// quantizer's range update or a layer's sum (or finishes), then hands the
// turn to replica i+1. The last replica to join builds the combination
// once, for all of them (a range update from the minimum of their batch
// minimums and the maximum of their maximums; a sum with AddN), and hands
// the turn back to replica 0. Only the turn holder
// touches the graph, so op names and build order are the same every time.
type ring struct {
	n      int
	turn   []chan struct{}
	shared *tfgraph.Graph // where updates are built (the variables' device)
	mu     sync.Mutex     // guards the fields below (held only by the turn holder)
	joins  []join         // of the round in progress
	result [][]tf.Output  // by round
	done   []bool         // replicas whose build returned
	err    error          // the first failure; every later join fails
}

// join is one replica's arrival at a rendezvous: its tensors and, the
// same for every replica, how they are combined.
type join struct {
	scope   string
	kind    string // "range" or "sum"
	parts   []tf.Output
	combine func(r *ring, parts [][]tf.Output) []tf.Output
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
		r.err = fmt.Errorf("data-parallel build: replica %d finished while %d replica(s) wait at %s", i, len(r.joins), r.joins[0].scope)
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
	out := m.meet(join{scope, "range", []tf.Output{bmin, bmax}, func(r *ring, parts [][]tf.Output) []tf.Output {
		s := r.shared.Scope(scope)
		c := s.Scope("replicas")
		lo, hi := parts[0][0], parts[0][1]
		for _, p := range parts[1:] {
			lo = c.Minimum("Minimum", lo, p[0])
			hi = c.Maximum("Maximum", hi, p[1])
		}
		a, b := update(s, lo, hi)
		return []tf.Output{a, b}
	}})
	if out == nil {
		return tf.Output{}, tf.Output{}
	}
	return out[0], out[1]
}

// Shard implements qat.Rendezvous.
func (m member) Shard() (index, n int) { return m.i, m.r.n }

// Sum implements qat.Rendezvous.
func (m member) Sum(scope string, x tf.Output, combine qat.SumCombine) tf.Output {
	out := m.meet(join{scope, "sum", []tf.Output{x}, func(r *ring, parts [][]tf.Output) []tf.Output {
		s := r.shared.Scope(scope)
		sum := parts[0][0]
		if len(parts) > 1 { // AddN takes two or more
			terms := make([]tf.Output, len(parts))
			for i, p := range parts {
				terms[i] = p[0]
			}
			sum = s.Scope("replicas").AddN("Sum", terms)
		}
		return []tf.Output{combine(s, sum, len(parts))}
	}})
	if out == nil {
		return tf.Output{}
	}
	return out[0]
}

// meet adds replica m.i's join to the round in progress, waits until
// every replica has joined and returns what the last one's arrival built
// from all of them (with the first's combine), or nil on failure.
func (m member) meet(j join) []tf.Output {
	r := m.r
	round := *m.round
	*m.round++
	r.mu.Lock()
	if r.err != nil {
		r.mu.Unlock()
		r.shared.SetErr(r.err)
		return nil
	}
	r.joins = append(r.joins, j)
	if len(r.joins) == r.n {
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
			r.err = fmt.Errorf("data-parallel build: replica %d waits at %s alone", m.i, j.scope)
		}
		r.shared.SetErr(r.err)
		return nil
	}
	return r.result[round]
}

// combine builds the combination of the round whose joins are all in.
func (r *ring) combine() []tf.Output {
	first := r.joins[0]
	parts := make([][]tf.Output, len(r.joins))
	for i, j := range r.joins {
		if j.scope != first.scope || j.kind != first.kind {
			r.err = fmt.Errorf("data-parallel build: replica %d joins the %s of %s where replica 0 joins the %s of %s", i, j.kind, j.scope, first.kind, first.scope)
			r.shared.SetErr(r.err)
			return nil
		}
		parts[i] = j.parts
	}
	return first.combine(r, parts)
}
