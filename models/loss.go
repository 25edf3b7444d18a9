package models

import (
	"fmt"
	"strings"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// The losses, named as Keras's loss functions (the model's outputs are
// logits: Keras's from_logits=True).
const (
	LossCategorical       = "categorical_crossentropy"
	LossSparseCategorical = "sparse_categorical_crossentropy"
	LossMeanSquaredError  = "mean_squared_error" // also "mse"
	LossBinary            = "binary_crossentropy"
)

// Loss is the training loss, as Keras 3's loss class of that name with
// from_logits=True and its default "sum_over_batch_size" reduction (the
// mean of the per-example losses): categorical_crossentropy (the default,
// one-hot labels), sparse_categorical_crossentropy (class ids),
// mean_squared_error (targets) or binary_crossentropy (labels in [0, 1],
// one sigmoid per output). LabelSmoothing is Keras's label_smoothing, for
// the two losses that take it (categorical and binary cross-entropy).
type Loss struct {
	Name           string  `yaml:"name"`
	LabelSmoothing float64 `yaml:"label_smoothing,omitempty"`
}

// name is the loss's canonical name ("" is categorical_crossentropy).
func (l Loss) name() string {
	switch n := strings.ToLower(l.Name); n {
	case "":
		return LossCategorical
	case "mse":
		return LossMeanSquaredError
	default:
		return n
	}
}

// Validate checks the name and that label smoothing is in [0, 1] and
// given only to a loss that takes it.
func (l Loss) Validate() error {
	switch n := l.name(); n {
	case LossCategorical, LossBinary:
		if !(l.LabelSmoothing >= 0 && l.LabelSmoothing <= 1) {
			return fmt.Errorf("loss: label_smoothing %g must be in [0, 1]", l.LabelSmoothing)
		}
	case LossSparseCategorical, LossMeanSquaredError:
		if l.LabelSmoothing != 0 {
			hint := ""
			if n == LossSparseCategorical {
				hint = "; Keras's SparseCategoricalCrossentropy has none either: use categorical_crossentropy with one-hot labels"
			}
			return fmt.Errorf("loss: %s takes no label_smoothing%s", n, hint)
		}
	default:
		return fmt.Errorf("loss: unknown name %q (supported: %s, %s, %s (or mse), %s)", l.Name,
			LossCategorical, LossSparseCategorical, LossMeanSquaredError, LossBinary)
	}
	return nil
}

// Labels is the form of y the loss trains on.
func (l Loss) Labels() data.Labels {
	switch l.name() {
	case LossSparseCategorical:
		return data.ClassIDs
	case LossMeanSquaredError:
		return data.Targets
	case LossBinary:
		return data.Probabilities
	}
	return data.OneHot
}

// String is the loss's name, with its label smoothing if any.
func (l Loss) String() string {
	if l.LabelSmoothing != 0 {
		return fmt.Sprintf("%s (label_smoothing %g)", l.name(), l.LabelSmoothing)
	}
	return l.name()
}

// Build adds the loss of logits [batch, outputs] against labels (float32,
// of the shape l.Labels().Shape(batch, outputs)) with Keras 3's ops in
// Keras 3's order, and returns the scalar loss.
func (l Loss) Build(g *tfgraph.Graph, logits, labels tf.Output) (tf.Output, error) {
	ld, err := l.check(logits, labels)
	if err != nil {
		return tf.Output{}, err
	}
	if ld[0] < 0 {
		return tf.Output{}, fmt.Errorf("loss: logits shape %v must have a static batch size", ld)
	}
	s := g.Scope(l.name())
	loss := reduce(s, l.values(s, logits, labels, ld[1]), ld[0])
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("loss %s: %w", l.name(), err)
	}
	return loss, nil
}

// reduce is Keras's sum_over_batch_size: the sum of the per-example
// losses over the batch size.
func reduce(s *tfgraph.Graph, values tf.Output, batch int64) tf.Output {
	return s.DivNoNan("div_no_nan", s.Sum("Sum", values, []int32{0}, false), s.Scalar("batch_size", float32(batch)))
}

// Reduce adds the loss of a batch from its per-example losses values
// (static batch size), with the ops of Build: the loss a data-parallel
// step reports from its replicas' Values, equal to one process's.
func (l Loss) Reduce(g *tfgraph.Graph, values tf.Output) (tf.Output, error) {
	d, err := tfgraph.ShapeOf(values)
	if err != nil || len(d) != 1 || d[0] < 0 {
		return tf.Output{}, fmt.Errorf("loss %s: per-example losses must be a vector of static size (%v, %v)", l.name(), d, err)
	}
	return reduce(g.Scope(l.name()), values, d[0]), nil
}

// Shard adds the part of the loss of a global batch of batch rows that
// falls on one data-parallel replica's shard (logits and labels): the sum
// of the shard's per-example losses over the global batch size. Its
// gradients are the global loss's for the shard's rows, op for op as in
// one process, so the replicas' gradients add up to the global one.
// values are the shard's per-example losses.
func (l Loss) Shard(g *tfgraph.Graph, logits, labels tf.Output, batch int64) (loss, values tf.Output, err error) {
	if _, err := l.check(logits, labels); err != nil {
		return tf.Output{}, tf.Output{}, err
	}
	if values, err = l.Values(g, logits, labels); err != nil {
		return tf.Output{}, tf.Output{}, err
	}
	loss = reduce(g.Scope(l.name()+"_shard"), values, batch)
	if err := g.Err(); err != nil {
		return tf.Output{}, tf.Output{}, fmt.Errorf("loss %s: %w", l.name(), err)
	}
	return loss, values, nil
}

// Values adds the per-example losses [batch] of logits against labels,
// before the reduction: what Keras's loss function of that name returns.
// The batch size may be unknown (-1), as in an evaluation graph.
func (l Loss) Values(g *tfgraph.Graph, logits, labels tf.Output) (tf.Output, error) {
	ld, err := l.check(logits, labels)
	if err != nil {
		return tf.Output{}, err
	}
	values := l.values(g.Scope(l.name()), logits, labels, ld[1])
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("loss %s: %w", l.name(), err)
	}
	return values, nil
}

// check validates l and the shapes of logits [batch, outputs] and labels
// (l.Labels's form) and returns logits' shape.
func (l Loss) check(logits, labels tf.Output) ([]int64, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	ld, err := tfgraph.ShapeOf(logits)
	if err != nil {
		return nil, fmt.Errorf("loss: logits: %w", err)
	}
	yd, err := tfgraph.ShapeOf(labels)
	if err != nil {
		return nil, fmt.Errorf("loss: labels: %w", err)
	}
	if len(ld) != 2 || ld[1] <= 0 {
		return nil, fmt.Errorf("loss: logits shape %v must be [batch, outputs]", ld)
	}
	if want := l.Labels().Shape(ld[0], int(ld[1])); !tfgraph.SameShape(yd, want) {
		return nil, fmt.Errorf("loss %s: labels shape %v, want %v (%s) for logits %v", l.name(), yd, want, l.Labels(), ld)
	}
	return ld, nil
}

// values adds the per-example losses under the loss's scope s.
func (l Loss) values(s *tfgraph.Graph, logits, labels tf.Output, outputs int64) tf.Output {
	var values tf.Output
	switch l.name() {
	case LossCategorical:
		if l.LabelSmoothing != 0 {
			labels = smooth(s, labels, l.LabelSmoothing, float32(l.LabelSmoothing)/float32(outputs))
		}
		values, _ = s.SoftmaxCrossEntropyWithLogits("softmax_cross_entropy_with_logits", logits, labels)
	case LossSparseCategorical:
		values, _ = s.SparseSoftmaxCrossEntropyWithLogits("SparseSoftmaxCrossEntropyWithLogits", logits, s.Cast("Cast", labels, tf.Int64))
	case LossMeanSquaredError:
		values = s.Mean("Mean", s.Square("Square", s.Sub("sub", labels, logits)), []int32{-1}, false)
	case LossBinary:
		if l.LabelSmoothing != 0 {
			labels = smooth(s, labels, l.LabelSmoothing, float32(0.5*l.LabelSmoothing))
		}
		values = s.Mean("Mean", s.SigmoidCrossEntropyWithLogits("logistic_loss", logits, labels), []int32{-1}, false)
	}
	return values
}

// smooth is Keras's label smoothing y * (1 - ls) + add, with 1 - ls
// computed in float64 and rounded to float32 as Python's constant is.
func smooth(s *tfgraph.Graph, y tf.Output, ls float64, add float32) tf.Output {
	keep := float32(1 - ls)
	return s.AddV2("add", s.Mul("mul", y, s.Scalar("mul/y", keep)), s.Scalar("add/y", add))
}

// CategoricalCrossEntropy adds Keras's
// CategoricalCrossentropy(from_logits=True) with its default
// "sum_over_batch_size" reduction: the per-example softmax cross-entropies
// of logits [batch, classes] against one-hot labels of the same shape,
// summed and divided by the batch size. It is Loss{}.Build.
func CategoricalCrossEntropy(g *tfgraph.Graph, logits, labels tf.Output) (tf.Output, error) {
	return Loss{}.Build(g, logits, labels)
}
