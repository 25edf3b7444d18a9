package qat

import (
	"fmt"
	"strings"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Env is what a quantizer sees while a model graph is built: where to add
// ops, whether the graph trains or infers, the step counter that drives the
// Schedule, and where to record the variables it creates. Layers pass a
// scoped copy (Scope) to each quantizer; the records are shared.
type Env struct {
	// Graph is the view new ops go into (already scoped to the layer).
	Graph *tfgraph.Graph
	// Training selects training behaviour (ranges updated from the batch);
	// false builds the inference graph, which only reads the ranges.
	Training bool
	// Step is the 0-based training step as an int64 scalar, read at the start
	// of the step. It may be the zero Output when Schedule is empty.
	Step tf.Output
	// Schedule delays quantization and freezes ranges (training only).
	Schedule Schedule
	// Calibrate builds the calibration graph: quantizers leave x in float
	// and record the range statistics they would start from in Observed.
	Calibrate bool

	rec  *record
	root string // the graph prefix NewEnv was given, left out of names
	// replicas joins the replicas of a data-parallel step (nil: one process).
	replicas Rendezvous
	// trained, in a replica, holds its own reads of the trainable ranges
	// (nil: rec.trainable, one process's).
	trained *[]tfgraph.Param
}

// record is the part of an Env shared by all its scoped copies.
type record struct {
	ranges    map[string]*tfgraph.Variable // range variables by full name
	order     []string
	trainable []tfgraph.Param
	observed  map[string]tf.Output
	init      map[string][]float32
}

// NewEnv returns an Env on g. init gives starting values for range
// variables by full name (e.g. from Calibrate); others start where the
// policy says (tfmot: -6 / +6).
func NewEnv(g *tfgraph.Graph, training bool, init map[string][]float32) *Env {
	return &Env{Graph: g, Training: training, root: g.FullName(""), rec: &record{
		ranges: map[string]*tfgraph.Variable{}, observed: map[string]tf.Output{}, init: init,
	}}
}

// key is the variable name for name in e's scope, without the prefix of
// the graph NewEnv was given (so a training and an inference graph built
// under different roots name their ranges alike).
func (e *Env) key(name string) string {
	return strings.TrimPrefix(e.Graph.FullName(name), e.root)
}

// Scope returns a copy whose ops and variables are named under name/.
func (e *Env) Scope(name string) *Env {
	c := *e
	c.Graph = e.Graph.Scope(name)
	return &c
}

// RangeVariables lists the range variables created so far, in creation order.
func (e *Env) RangeVariables() []*tfgraph.Variable {
	out := make([]*tfgraph.Variable, 0, len(e.rec.order))
	for _, n := range e.rec.order {
		out = append(out, e.rec.ranges[n])
	}
	return out
}

// Trainable lists the range variables that are trained by gradient (Learnable).
// In a replica of a data-parallel step they are the replica's own reads,
// whose gradients the replicas add.
func (e *Env) Trainable() []tfgraph.Param {
	if e.trained != nil {
		return append([]tfgraph.Param(nil), *e.trained...)
	}
	return append([]tfgraph.Param(nil), e.rec.trainable...)
}

// Observed maps each range variable's full name to the statistic the
// calibration graph computes for it (only when Calibrate is set).
func (e *Env) Observed() map[string]tf.Output {
	out := make(map[string]tf.Output, len(e.rec.observed))
	for k, v := range e.rec.observed {
		out[k] = v
	}
	return out
}

// rangeVar returns the variable name (scoped) with shape, created on first
// use with the calibration value if one was given, else with def. A second
// Env built on the same graph for inference reuses the training variables
// when given them through ShareRanges.
func (e *Env) rangeVar(name string, shape []int64, def float32) *tfgraph.Variable {
	full := e.key(name)
	if v, ok := e.rec.ranges[full]; ok {
		return v
	}
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = def
	}
	if given, ok := e.rec.init[full]; ok {
		if len(given) != n {
			e.Graph.SetErr(fmt.Errorf("initial range %s has %d values, want %d", full, len(given), n))
		} else {
			copy(vals, given)
		}
	}
	t, err := tfgraph.NewTensor(shape, vals)
	if err != nil {
		e.Graph.SetErr(fmt.Errorf("range %s: %w", full, err))
		return &tfgraph.Variable{Name: full}
	}
	v := e.Graph.NewVariable(name, t)
	e.rec.ranges[full] = v
	e.rec.order = append(e.rec.order, full)
	return v
}

// ShareRanges makes e reuse the range variables (and trainable records) of
// other, so an inference graph built beside a training graph reads the same
// variables.
func (e *Env) ShareRanges(other *Env) { e.rec.ranges = other.rec.ranges }

// train records ps, reads of range variables trained by gradient: in a
// replica its own (every replica reads them), else once (known: an
// earlier build of the same record has).
func (e *Env) train(known bool, ps ...tfgraph.Param) {
	switch {
	case e.trained != nil:
		*e.trained = append(*e.trained, ps...)
	case !known:
		e.rec.trainable = append(e.rec.trainable, ps...)
	}
}
