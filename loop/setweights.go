package loop

import (
	"fmt"
	"slices"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// SetWeights assigns the given model variables (float master weights,
// batch-norm statistics, quantizer ranges: the names Weights and Ranges
// return), as Keras's model.set_weights does; the optimizer's state and
// the step are left as they are. A name the model lacks or a shape that
// differs is an error naming the variable, and then nothing is assigned.
func (t *Trainer) SetWeights(w data.Weights) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	feeds := map[tf.Output]*tf.Tensor{}
	var ops []*tf.Operation
	for _, name := range w.Names() {
		i := slices.IndexFunc(t.vars, func(v *tfgraph.Variable) bool { return v.Name == name })
		if i < 0 || !(t.model[name] || t.ranges[name]) {
			return fmt.Errorf("set weights: the model has no variable %s", name)
		}
		a := w[name]
		if !tfgraph.SameShape(a.Shape, t.vars[i].Shape) {
			return fmt.Errorf("set weights: %s has shape %v, the variable %v", name, a.Shape, t.vars[i].Shape)
		}
		v, err := tfgraph.NewTensor(a.Shape, a.Data)
		if err != nil {
			return fmt.Errorf("set weights: %s: %w", name, err)
		}
		feeds[t.ckpt.assignIn[i]] = v
		ops = append(ops, t.ckpt.assignOne[i])
	}
	if _, err := t.session.Run(feeds, nil, ops); err != nil {
		return fmt.Errorf("set weights: %w", err)
	}
	// The new values are the state a diverged step goes back to.
	return t.snapshotNow()
}
