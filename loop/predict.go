package loop

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// EvalBatch is how many examples Predict and Evaluate run at once.
const EvalBatch = 1000

func feedXY(xo, yo tf.Output, x, y data.Array) (map[tf.Output]*tf.Tensor, error) {
	xt, err := tfgraph.NewTensor(x.Shape, x.Data)
	if err != nil {
		return nil, fmt.Errorf("batch x: %w", err)
	}
	yt, err := tfgraph.NewTensor(y.Shape, y.Data)
	if err != nil {
		return nil, fmt.Errorf("batch y: %w", err)
	}
	return map[tf.Output]*tf.Tensor{xo: xt, yo: yt}, nil
}

// Predict returns the inference graph's outputs (fake-quantized with the
// current ranges, batch norms with moving statistics) for x [N, input...].
func (t *Trainer) Predict(x data.Array) (data.Array, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return predict(t.session, t.evalX, t.logits, x)
}

func predict(sess *tf.Session, in, logits tf.Output, x data.Array) (data.Array, error) {
	return predictBatches(sess, in, logits, x, EvalBatch)
}

func predictBatches(sess *tf.Session, in, logits tf.Output, x data.Array, batch int) (data.Array, error) {
	shape, vals, err := tfgraph.RunBatches(sess, in, logits, x.Shape, x.Data, batch)
	if err != nil {
		return data.Array{}, fmt.Errorf("predict: %w", err)
	}
	return data.Array{Shape: shape, Data: vals}, nil
}

// Evaluate returns the inference graph's accuracy on d, as LabelAccuracy
// with the form of labels the trainer's loss takes.
func (t *Trainer) Evaluate(d data.Dataset) (float64, error) {
	logits, err := t.Predict(d.X)
	if err != nil {
		return 0, err
	}
	return LabelAccuracy(logits, d.Y, t.labels)
}

// Accuracy is the fraction of rows whose argmax in logits matches the
// argmax of the one-hot labels, or the class id of labels [N] (sparse
// labels). Shapes that differ, data shorter or longer than their shapes,
// labels that are not one-hot (or ids not in [0, classes)) and outputs
// that are NaN or infinite are errors naming the example.
func Accuracy(logits, labels data.Array) (float64, error) {
	if len(labels.Shape) == 1 && len(logits.Shape) == 2 {
		return sparseAccuracy(logits, labels)
	}
	if len(logits.Shape) != 2 || !tfgraph.SameShape(logits.Shape, labels.Shape) || logits.Shape[0] <= 0 || logits.Shape[1] <= 0 {
		return 0, fmt.Errorf("accuracy: outputs %v and labels %v must both be [N, classes] with N, classes > 0", logits.Shape, labels.Shape)
	}
	n, c := int(logits.Shape[0]), int(logits.Shape[1])
	if len(logits.Data) != n*c || len(labels.Data) != n*c {
		return 0, fmt.Errorf("accuracy: outputs have %d values and labels %d; their shape %v needs %d", len(logits.Data), len(labels.Data), logits.Shape, n*c)
	}
	if err := data.CheckOneHot(labels); err != nil {
		return 0, fmt.Errorf("accuracy: %w", err)
	}
	right := 0
	for i := 0; i < n; i++ {
		row := logits.Data[i*c : (i+1)*c]
		for j, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, fmt.Errorf("accuracy: the output of example %d (counting from 0) is %v at class %d; the model computes NaN or infinity", i, v, j)
			}
		}
		if argmax(row) == argmax(labels.Data[i*c:(i+1)*c]) {
			right++
		}
	}
	return float64(right) / float64(n), nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// State returns every variable of the model (weights, quantizer ranges,
// batch-norm statistics, optimizer slots, step counters) by name.
func (t *Trainer) State() (data.Weights, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state()
}

func (t *Trainer) state() (data.Weights, error) {
	out, err := t.session.Run(nil, t.reads, nil)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	w := data.Weights{}
	for i, v := range t.vars {
		if v.DType != tf.Float {
			continue
		}
		vals, err := tfgraph.Float32s(out[i])
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", v.Name, err)
		}
		w[v.Name] = data.Array{Shape: out[i].Shape(), Data: vals}
	}
	return w, nil
}
