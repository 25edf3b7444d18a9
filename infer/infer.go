package infer

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
)

// DefaultBatch is how many examples Predict runs at once unless told.
const DefaultBatch = loop.EvalBatch

// Model is a trained model open for inference.
type Model struct {
	kind  Kind
	input []int64
	run   *loop.Evaluator
	saved *savedmodel.Model
}

// Open opens the run folder or SavedModel at path for inference, with the
// session settings sc (threads, numerics).
func Open(path string, sc tfgraph.SessionConfig) (*Model, error) {
	k, err := Detect(path)
	if err != nil {
		return nil, err
	}
	if k == SavedModel {
		sm, err := savedmodel.Load(path, sc)
		if err != nil {
			return nil, err
		}
		return &Model{kind: k, input: sm.Input(), saved: sm}, nil
	}
	r, err := LoadRun(path)
	if err != nil {
		return nil, err
	}
	ev, err := loop.NewEvaluator(r.Model, r.Weights, r.Ranges, sc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Model{kind: k, input: append([]int64(nil), r.Model.Input...), run: ev}, nil
}

// Kind says whether the model came from a run folder or a SavedModel.
func (m *Model) Kind() Kind { return m.kind }

// Input is the shape of one example.
func (m *Model) Input() []int64 { return append([]int64(nil), m.input...) }

// Predict returns the logits for x [N, Input()...], batch examples per
// session run. An x of another shape, no examples or batch < 1 is an
// error.
func (m *Model) Predict(x data.Array, batch int) (data.Array, error) {
	if batch < 1 {
		return data.Array{}, fmt.Errorf("batch size %d, want >= 1", batch)
	}
	if len(x.Shape) != len(m.input)+1 || !tfgraph.SameShape(x.Shape[1:], m.input) {
		return data.Array{}, fmt.Errorf("x has shape %v, the model needs [N %v]", x.Shape, m.input)
	}
	if x.Shape[0] < 1 {
		return data.Array{}, fmt.Errorf("x has no examples (shape %v)", x.Shape)
	}
	if m.saved != nil {
		return m.saved.PredictBatches(x, batch)
	}
	return m.run.PredictBatches(x, batch)
}

// Close releases the session.
func (m *Model) Close() error {
	if m.saved != nil {
		return m.saved.Close()
	}
	return m.run.Close()
}

// Classes returns each row's argmax of logits [N, classes] (the first of
// equal maxima). A NaN in a row is an error naming the example.
func Classes(logits data.Array) ([]int64, error) {
	if len(logits.Shape) != 2 || logits.Shape[1] < 1 {
		return nil, fmt.Errorf("classes: logits have shape %v, want [N, classes]", logits.Shape)
	}
	n, c := int(logits.Shape[0]), int(logits.Shape[1])
	if len(logits.Data) != n*c {
		return nil, fmt.Errorf("classes: logits have %d values, shape %v needs %d", len(logits.Data), logits.Shape, n*c)
	}
	out := make([]int64, n)
	for i := range out {
		row := logits.Data[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if math.IsNaN(float64(v)) {
				return nil, fmt.Errorf("classes: example %d (counting from 0) has a NaN logit at class %d", i, j)
			}
			if v > row[best] {
				best = j
			}
		}
		out[i] = int64(best)
	}
	return out, nil
}
