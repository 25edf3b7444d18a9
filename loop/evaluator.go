package loop

import (
	"fmt"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
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
	score   scoreOps
	input   []int64
	classes int
	labels  data.Labels
}

// NewEvaluator builds m for inference with weights (every model variable,
// by name) and ranges (every range variable the scheme needs, by name).
// Pass m with a nil Scheme to evaluate the float model.
func NewEvaluator(m models.Model, weights, ranges data.Weights, sc tfgraph.SessionConfig) (*Evaluator, error) {
	return NewEvaluatorWithLoss(m, weights, ranges, sc, models.Loss{})
}

// NewEvaluatorWithLoss is NewEvaluator for a model trained with loss:
// Metrics reports that loss and takes labels in its form (class ids for
// sparse_categorical_crossentropy, ...).
func NewEvaluatorWithLoss(m models.Model, weights, ranges data.Weights, sc tfgraph.SessionConfig, loss models.Loss) (*Evaluator, error) {
	inf, err := models.BuildInference(m, "x", weights, ranges)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	g := inf.Graph
	so, err := addScore(g.Scope("metrics"), inf.Logits, m.Classes(), loss)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	sess, err := tfgraph.NewSession(g, sc)
	if err != nil {
		return nil, err
	}
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		sess.Close()
		return nil, fmt.Errorf("evaluate: initialise: %w", err)
	}
	return &Evaluator{session: sess, x: inf.X, logits: inf.Logits, score: so, input: m.Input, classes: m.Classes(), labels: loss.Labels()}, nil
}

// Predict returns the model's outputs for x [N, input...].
func (e *Evaluator) Predict(x data.Array) (data.Array, error) {
	return predict(e.session, e.x, e.logits, x)
}

// PredictBatches is Predict running batch examples at a time (Predict
// runs EvalBatch).
func (e *Evaluator) PredictBatches(x data.Array, batch int) (data.Array, error) {
	return predictBatches(e.session, e.x, e.logits, x, batch)
}

// Evaluate returns the accuracy on d (its labels in the form of the
// evaluator's loss; see LabelAccuracy).
func (e *Evaluator) Evaluate(d data.Dataset) (float64, error) {
	logits, err := e.Predict(d.X)
	if err != nil {
		return 0, err
	}
	return LabelAccuracy(logits, d.Y, e.labels)
}

// Metrics returns the loss and accuracy on d, run batchSize examples at
// a time and averaged as Keras's Model.evaluate(x, y,
// batch_size=batchSize) does (see Trainer.Metrics).
func (e *Evaluator) Metrics(d data.Dataset, batchSize int) (Metrics, error) {
	if err := d.ValidateLabels(e.input, e.classes, e.labels); err != nil {
		return Metrics{}, fmt.Errorf("evaluate: %w", err)
	}
	return score(e.session, e.x, e.score, d, batchSize)
}

// Close releases the session.
func (e *Evaluator) Close() error { return e.session.Close() }
