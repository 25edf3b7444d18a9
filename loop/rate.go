package loop

import (
	"fmt"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// LearningRate adds to g the ops that compute o's learning rate for a step
// taken after iterations steps (an int64 scalar; the optimizer's
// iteration counter before that step): its Schedule's ops, as its Apply
// adds them, or its constant rate. Its float32 value is the rate that
// step applies. o must be an Adam or an SGD.
func LearningRate(g *tfgraph.Graph, o Optimizer, iterations tf.Output) (tf.Output, error) {
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
		return tf.Output{}, fmt.Errorf("learning rate: optimizer %T is not an Adam or SGD", o)
	}
	if s != nil {
		return s.Rate(g, iterations), g.Err()
	}
	return g.Scalar("learning_rate", float32(lr)), g.Err()
}
