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
	lr, s, ok := rateOf(o)
	if !ok {
		return tf.Output{}, fmt.Errorf("learning rate: optimizer %T is not an Adam or SGD", o)
	}
	if s != nil {
		return s.Rate(g, iterations), g.Err()
	}
	return g.Scalar("learning_rate", float32(lr)), g.Err()
}

// rateOf returns an Adam's or SGD's constant learning rate and schedule;
// ok is false for another optimizer type.
func rateOf(o Optimizer) (lr float64, s Schedule, ok bool) {
	switch o := o.(type) {
	case Adam:
		return o.LearningRate, o.Schedule, true
	case *Adam:
		return o.LearningRate, o.Schedule, true
	case SGD:
		return o.LearningRate, o.Schedule, true
	case *SGD:
		return o.LearningRate, o.Schedule, true
	}
	return 0, nil, false
}
