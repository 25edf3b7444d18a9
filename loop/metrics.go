package loop

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Metrics are a loss and an accuracy over a data set, as Keras's
// Model.evaluate reports them.
type Metrics struct {
	Loss, Accuracy float32
}

// scoreOps score one batch of the inference graph: its loss (Keras's
// CategoricalCrossentropy(from_logits=True), the mean over the batch) and
// the number of right predictions, for the labels fed to y.
type scoreOps struct {
	y, loss, correct tf.Output
}

// addScore adds, under g's scope, a labels placeholder y [-1, classes] and
// the loss and right-prediction count of logits against it.
func addScore(g *tfgraph.Graph, logits tf.Output, classes int) scoreOps {
	y := g.Placeholder("y", tf.Float, []int64{-1, int64(classes)})
	xent, _ := g.SoftmaxCrossEntropyWithLogits("softmax_cross_entropy_with_logits", logits, y)
	sum := g.Sum("Sum", xent, []int32{0}, false)
	// Keras divides by the number of per-example losses, cast to float.
	n := g.Cast("batch_size", g.Op1("Size", "size", []any{xent}, map[string]any{"out_type": tf.Int32}), tf.Float)
	return scoreOps{y: y, loss: g.DivNoNan("div_no_nan", sum, n), correct: correctCount(g, logits, y)}
}

// correctCount adds the number (as float32, as Keras's accuracy sums it)
// of rows whose argmax in logits is the argmax of the one-hot labels:
// Keras's categorical_accuracy summed over the batch.
func correctCount(g *tfgraph.Graph, logits, labels tf.Output) tf.Output {
	axis := g.Const("axis", int32(1))
	attrs := map[string]any{"output_type": tf.Int64}
	pred := g.Op1("ArgMax", "predicted", []any{logits, axis}, attrs)
	want := g.Op1("ArgMax", "labelled", []any{labels, axis}, attrs)
	right := g.Cast("right", g.Equal("equal", pred, want), tf.Float)
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
		out, err := sess.Run(feeds, []tf.Output{s.loss, s.correct}, nil)
		if err != nil {
			return Metrics{}, fmt.Errorf("evaluate: examples %d..%d: %w", from, from+b.Len(), err)
		}
		l, _ := tfgraph.Value(out[0]).(float32)
		c, _ := tfgraph.Value(out[1]).(float32)
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
	if err := d.Validate(t.def.Input, t.def.Classes()); err != nil {
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
	var lr float64
	var s Schedule
	switch o := o.(type) {
	case Adam:
		lr, s = o.LearningRate, o.Schedule
	case *Adam:
		lr, s = o.LearningRate, o.Schedule
	case SGD:
		lr, s = o.LearningRate, o.Schedule
	case *SGD:
		lr, s = o.LearningRate, o.Schedule
	default:
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
