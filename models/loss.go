package models

import (
	"fmt"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// CategoricalCrossEntropy adds Keras's
// CategoricalCrossentropy(from_logits=True) with its default
// "sum_over_batch_size" reduction: the per-example softmax cross-entropies
// summed, then divided (div_no_nan) by the batch size. logits and labels are
// [batch, classes] with a static batch size.
func CategoricalCrossEntropy(g *tfgraph.Graph, logits, labels tf.Output) (tf.Output, error) {
	ld, err := tfgraph.ShapeOf(logits)
	if err != nil {
		return tf.Output{}, fmt.Errorf("loss: logits: %w", err)
	}
	yd, err := tfgraph.ShapeOf(labels)
	if err != nil {
		return tf.Output{}, fmt.Errorf("loss: labels: %w", err)
	}
	if len(ld) != 2 || len(yd) != 2 || ld[0] < 0 || ld[0] != yd[0] || ld[1] != yd[1] {
		return tf.Output{}, fmt.Errorf("loss: logits shape %v and labels shape %v must be equal [batch, classes]", ld, yd)
	}
	s := g.Scope("categorical_crossentropy")
	xent, _ := s.SoftmaxCrossEntropyWithLogits("softmax_cross_entropy_with_logits", logits, labels)
	sum := s.Sum("Sum", xent, []int32{0}, false)
	loss := s.DivNoNan("div_no_nan", sum, s.Scalar("batch_size", float32(ld[0])))
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("loss: %w", err)
	}
	return loss, nil
}
