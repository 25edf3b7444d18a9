package loop

import (
	"fmt"

	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Evaluator runs a model's inference graph (quantizers reading their
// stored ranges, batch norms their moving statistics) in a session of its
// own, with the given variable values.
type Evaluator struct {
	session *tf.Session
	x       tf.Output
	logits  tf.Output
}

// NewEvaluator builds m for inference with weights (every model variable,
// by name) and ranges (every range variable the scheme needs, by name).
// Pass m with a nil Scheme to evaluate the float model.
func NewEvaluator(m models.Model, weights, ranges models.Weights, sc tfgraph.SessionConfig) (*Evaluator, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	g := tfgraph.NewGraph()
	x := g.Placeholder("x", tf.Float, append([]int64{-1}, m.Input...))
	r := map[string][]float32{}
	for n, a := range ranges {
		r[n] = a.Data
	}
	env := qat.NewEnv(g, false, r)
	b := models.NewBuilder(env, m.Scheme, weights, 0)
	built, err := m.Build(b, x)
	if err != nil {
		return nil, err
	}
	for _, v := range b.Variables() {
		if _, ok := weights[v.Name]; !ok {
			return nil, fmt.Errorf("evaluate: no value for variable %s", v.Name)
		}
	}
	for _, v := range env.RangeVariables() {
		if _, ok := r[v.Name]; !ok {
			return nil, fmt.Errorf("evaluate: no value for range %s", v.Name)
		}
	}
	sess, err := tfgraph.NewSession(g, sc)
	if err != nil {
		return nil, err
	}
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		sess.Close()
		return nil, fmt.Errorf("evaluate: initialise: %w", err)
	}
	return &Evaluator{session: sess, x: x, logits: built.Logits}, nil
}

// Predict returns the model's outputs for x [N, input...].
func (e *Evaluator) Predict(x models.Array) (models.Array, error) {
	return predict(e.session, e.x, e.logits, x)
}

// Evaluate returns the accuracy on d.
func (e *Evaluator) Evaluate(d models.Dataset) (float64, error) {
	logits, err := e.Predict(d.X)
	if err != nil {
		return 0, err
	}
	return Accuracy(logits, d.Y)
}

// Close releases the session.
func (e *Evaluator) Close() error { return e.session.Close() }
