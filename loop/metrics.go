package loop

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Metrics are a loss and an accuracy over a data set, as Keras's
// Model.evaluate reports them.
type Metrics struct {
	Loss, Accuracy float32
}

// scoreOps score one batch of the inference graph: its loss (the
// training loss, the mean over the batch) and the number of right
// predictions (a zero Output for a loss without an accuracy), for the
// labels fed to y.
type scoreOps struct {
	y, loss, correct tf.Output
}

// addScore adds, under g's scope, a labels placeholder y (of loss's label
// form, any batch size) and the loss and right-prediction count of logits
// against it.
func addScore(g *tfgraph.Graph, logits tf.Output, classes int, loss models.Loss) (scoreOps, error) {
	y := g.Placeholder("y", tf.Float, loss.Labels().Shape(-1, classes))
	values, err := loss.Values(g, logits, y)
	if err != nil {
		return scoreOps{}, err
	}
	sum := g.Sum("Sum", values, []int32{0}, false)
	// Keras divides by the number of per-example losses, cast to float.
	n := g.Cast("batch_size", g.Op1("Size", "size", []any{values}, map[string]any{"out_type": tf.Int32}), tf.Float)
	return scoreOps{y: y, loss: g.DivNoNan("div_no_nan", sum, n), correct: correctCount(g, logits, y, loss.Labels())}, nil
}

// correctCount adds the number (as float32, as Keras's accuracy sums it)
// of right predictions in logits for labels of the given form, summed
// over the batch: Keras's categorical_accuracy for one-hot labels (the
// argmaxes agree), sparse_categorical_accuracy for class ids, and
// binary_accuracy at logit 0 (probability 0.5) for binary labels, the
// per-example mean over the outputs. Targets (mean squared error) have
// no accuracy: a zero Output.
func correctCount(g *tfgraph.Graph, logits, labels tf.Output, form data.Labels) tf.Output {
	axis := g.Const("axis", int32(1))
	attrs := map[string]any{"output_type": tf.Int64}
	var right tf.Output
	switch form {
	case data.OneHot:
		pred := g.Op1("ArgMax", "predicted", []any{logits, axis}, attrs)
		want := g.Op1("ArgMax", "labelled", []any{labels, axis}, attrs)
		right = g.Cast("right", g.Equal("equal", pred, want), tf.Float)
	case data.ClassIDs:
		pred := g.Op1("ArgMax", "predicted", []any{logits, axis}, attrs)
		right = g.Cast("right", g.Equal("equal", pred, g.Cast("labelled", labels, tf.Int64)), tf.Float)
	case data.Probabilities:
		pred := g.Cast("predicted", g.Greater("positive", logits, g.Scalar("threshold", float32(0))), tf.Float)
		right = g.Mean("right", g.Cast("equal", g.Equal("equal", labels, pred), tf.Float), []int32{-1}, false)
	default:
		return tf.Output{}
	}
	return g.Sum("correct", right, []int32{0}, false)
}

// mean accumulates values as keras.metrics.Mean does, in float32: a total
// of weighted values and a count of weights; the result is their
// quotient (0 when the count is 0, as divide_no_nan).
type mean struct{ total, count float32 }

// add adds sum, the sum of count weighted values.
func (m *mean) add(sum, count float32) {
	m.total = float32(m.total + sum)
	m.count = float32(m.count + count)
}

// addLoss adds a batch's mean loss as Keras's loss tracker does: weighted
// by the batch's size.
func (m *mean) addLoss(loss float32, examples int) {
	b := float32(examples)
	m.add(float32(loss*b), b)
}

func (m mean) result() float32 {
	if m.count == 0 {
		return 0
	}
	return float32(m.total / m.count)
}

// score runs the scoring ops over d, batchSize examples at a time (the
// last batch holds the rest), and averages the batches as Keras's
// evaluate(batch_size=batchSize) does.
func score(sess *tf.Session, x tf.Output, s scoreOps, d data.Dataset, batchSize int) (Metrics, error) {
	n := d.Len()
	if batchSize < 1 {
		return Metrics{}, fmt.Errorf("evaluate: batch size %d, want >= 1", batchSize)
	}
	if n == 0 || d.Y.Shape == nil {
		return Metrics{}, fmt.Errorf("evaluate: no examples")
	}
	var loss, acc mean
	for from := 0; from < n; from += batchSize {
		b, err := d.Slice(from, min(from+batchSize, n))
		if err != nil {
			return Metrics{}, fmt.Errorf("evaluate: %w", err)
		}
		feeds, err := feedXY(x, s.y, b.X, b.Y)
		if err != nil {
			return Metrics{}, fmt.Errorf("evaluate: %w", err)
		}
		fetch := []tf.Output{s.loss}
		if s.correct.Op != nil {
			fetch = append(fetch, s.correct)
		}
		out, err := sess.Run(feeds, fetch, nil)
		if err != nil {
			return Metrics{}, fmt.Errorf("evaluate: examples %d..%d: %w", from, from+b.Len(), err)
		}
		l, _ := tfgraph.Value(out[0]).(float32)
		c := float32(math.NaN()) // no accuracy
		if len(out) > 1 {
			c, _ = tfgraph.Value(out[1]).(float32)
		}
		loss.addLoss(l, b.Len())
		acc.add(c, float32(b.Len()))
	}
	return Metrics{Loss: loss.result(), Accuracy: acc.result()}, nil
}

// Metrics returns the loss and accuracy of the inference graph
// (quantizers with their current ranges, batch norms with their moving
// statistics) on d, run batchSize examples at a time and averaged as
// Keras's Model.evaluate(x, y, batch_size=batchSize) does: the batches'
// mean losses weighted by their sizes, in float32.
func (t *Trainer) Metrics(d data.Dataset, batchSize int) (Metrics, error) {
	if err := d.ValidateLabels(t.def.Input, t.def.Classes(), t.labels); err != nil {
		return Metrics{}, fmt.Errorf("evaluate: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return score(t.session, t.evalX, t.score, d, batchSize)
}

// learningRateNow adds the learning rate the optimizer's next step will
// use (Keras's logs["learning_rate"], float(optimizer.learning_rate)),
// computed from the trainer's step counter, which counts the updates as
// the optimizer's own counter does. It returns a zero Output for an
// optimizer type other than Adam and SGD.
func learningRateNow(g *tfgraph.Graph, step *tfgraph.Variable, o Optimizer) tf.Output {
	lr, s, ok := rateOf(o)
	if !ok {
		return tf.Output{}
	}
	return rate(g, step, lr, s)
}

// learningRate returns the rate of the next step (NaN if the optimizer's
// type is not known).
func (t *Trainer) learningRate() (float32, error) {
	if t.lr.Op == nil {
		return float32(math.NaN()), nil
	}
	out, err := t.session.Run(nil, []tf.Output{t.lr}, nil)
	if err != nil {
		return 0, fmt.Errorf("learning rate: %w", err)
	}
	v, _ := tfgraph.Value(out[0]).(float32)
	return v, nil
}
