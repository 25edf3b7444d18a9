package tensorboard

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// The runs a RunLogger writes, as Keras's TensorBoard callback names them.
const (
	TrainRun      = "train"
	ValidationRun = "validation"
)

// RunConfig says where and how often a RunLogger logs.
type RunConfig struct {
	// Dir is the run's log folder (qat train: DIR/logs); the train
	// summaries go to Dir/train, the validation ones to Dir/validation.
	Dir string
	// Every logs every Every steps (and at step Steps, the last).
	Every, Steps int
	// Optimizer is the trainer's, whose learning rate is logged.
	Optimizer loop.Optimizer
	// Numerics is the trainer's session numerics, used to compute the
	// learning rate the same way.
	Numerics tfgraph.Numerics
}

// RunLogger logs a Trainer's run into TensorBoard event files. At each
// logged step it writes to Dir/train:
//
//   - scalars loss (the step's, as Run reported it), learning_rate (the
//     rate the step applied, from the optimizer's schedule) and
//     steps_per_second (since the step logged before, less the time spent
//     logging it);
//   - per quantizer of the inference graph, quantizer/<name>/min, max and
//     scale: the range its FakeQuant op is given and the scale TensorFlow's
//     kernel uses, (max-min)/(2^bits-1), or 2^bits-2 with narrow_range
//     (qat.Nudge). Scalars for a per-tensor quantizer; histograms over the
//     channels for a per-channel one;
//   - histograms weights/<layer>/<variable> of every float model variable
//     and quantized/<quantizer> of every fake-quantized weight, as
//     TensorFlow's FakeQuant op computes it from the weight and its
//     quantizer's current range.
//
// Validation writes scalars to Dir/validation, made on first use.
type RunLogger struct {
	cfg        RunConfig
	tr         *loop.Trainer
	train, val *Writer
	rate       *rateGraph
	now        func() time.Time
	lastStep   int
	lastAt     time.Time
	// What opening the writers added, for Discard.
	trainFP, valFP *footprint
}

// NewRunLogger opens Dir/train for tr's run (which continues from the
// trainer's current step). A folder that cannot be written is an error
// here, before training starts.
func NewRunLogger(tr *loop.Trainer, c RunConfig) (*RunLogger, error) {
	if c.Every <= 0 {
		return nil, fmt.Errorf("tensorboard: log every %d steps: must be > 0", c.Every)
	}
	rate, err := newRateGraph(c.Optimizer, c.Numerics)
	if err != nil {
		return nil, err
	}
	fp := newFootprint(filepath.Join(c.Dir, TrainRun))
	w, err := NewWriter(fp.dir)
	if err != nil {
		rate.close()
		return nil, err
	}
	l := &RunLogger{cfg: c, tr: tr, train: w, rate: rate, now: time.Now, lastStep: tr.StepsDone(), trainFP: fp}
	l.lastAt = l.now()
	return l, nil
}

// Step logs r when its step is due: a multiple of Every, or the last.
func (l *RunLogger) Step(r loop.StepResult) error {
	if r.Step%l.cfg.Every != 0 && r.Step != l.cfg.Steps {
		return nil
	}
	return l.Log(r.Step, r.Loss)
}

// Log writes the summaries of step (whose loss was loss) now.
func (l *RunLogger) Log(step int, loss float32) error {
	now := l.now()
	s := int64(step)
	scalars := map[string]float32{"loss": loss}
	lr, err := l.rate.at(s - 1)
	if err != nil {
		return err
	}
	scalars["learning_rate"] = lr
	if secs := now.Sub(l.lastAt).Seconds(); secs > 0 && step > l.lastStep {
		scalars["steps_per_second"] = float32(float64(step-l.lastStep) / secs)
	}
	hists := map[string][]float32{}
	weights, err := l.tr.Weights()
	if err != nil {
		return err
	}
	for name, a := range weights {
		hists["weights/"+name] = a.Data
	}
	qs, err := l.tr.Quantizers()
	if err != nil {
		return err
	}
	for _, q := range qs {
		addQuantizer(q, scalars, hists)
	}
	if err := l.train.Scalars(s, scalars); err != nil {
		return err
	}
	if err := l.train.Histograms(s, hists); err != nil {
		return err
	}
	if err := l.train.Flush(); err != nil {
		return err
	}
	// The next rate counts training time, not the time spent logging.
	l.lastStep, l.lastAt = step, l.now()
	return nil
}

// addQuantizer adds q's range and scale (and its fake-quantized weight).
func addQuantizer(q loop.QuantizerValue, scalars map[string]float32, hists map[string][]float32) {
	prefix := "quantizer/" + q.Name + "/"
	scale := make([]float32, len(q.Min))
	for i := range q.Min {
		_, _, scale[i] = qat.Nudge(q.Min[i], q.Max[i], q.NumBits, q.NarrowRange)
	}
	if q.PerChannel {
		hists[prefix+"min"], hists[prefix+"max"], hists[prefix+"scale"] = q.Min, q.Max, scale
	} else if len(q.Min) == 1 && len(q.Max) == 1 {
		scalars[prefix+"min"], scalars[prefix+"max"], scalars[prefix+"scale"] = q.Min[0], q.Max[0], scale[0]
	}
	if q.Weight {
		hists["quantized/"+q.Name] = q.Quantized
	}
}

// Train writes more scalars (e.g. an epoch's training accuracy) at step to
// Dir/train.
func (l *RunLogger) Train(step int64, values map[string]float32) error {
	if err := l.train.Scalars(step, values); err != nil {
		return err
	}
	return l.train.Flush()
}

// Validation writes values (e.g. loss, accuracy) at step to Dir/validation.
// Under the tags of the train run's scalars (loss), TensorBoard draws the
// two runs on one chart.
func (l *RunLogger) Validation(step int64, values map[string]float32) error {
	if l.val == nil {
		fp := newFootprint(filepath.Join(l.cfg.Dir, ValidationRun))
		w, err := NewWriter(fp.dir)
		if err != nil {
			return err
		}
		l.val, l.valFP = w, fp
	}
	if err := l.val.Scalars(step, values); err != nil {
		return err
	}
	return l.val.Flush()
}

// Close flushes and closes the event files.
func (l *RunLogger) Close() error {
	err := l.train.Close()
	if l.val != nil {
		err = errors.Join(err, l.val.Close())
	}
	l.rate.close()
	return err
}

// Discard closes the event files and removes them, with the folders
// NewRunLogger and Validation made (if empty then): for a run that failed
// before any of its steps counted.
func (l *RunLogger) Discard() error {
	err := l.Close()
	if l.valFP != nil { // made after train, so undone first
		err = errors.Join(err, l.valFP.undo())
	}
	return errors.Join(err, l.trainFP.undo())
}

// rateGraph computes the optimizer's learning rate after some iterations
// with the ops its Apply uses.
type rateGraph struct {
	sess       *tf.Session
	iterations tf.Output
	rate       tf.Output
}

func newRateGraph(o loop.Optimizer, n tfgraph.Numerics) (*rateGraph, error) {
	g := tfgraph.NewGraph()
	r := &rateGraph{iterations: g.Placeholder("iterations", tf.Int64, []int64{})}
	var err error
	if r.rate, err = loop.LearningRate(g, o, r.iterations); err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	if r.sess, err = tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps, Numerics: n}); err != nil {
		return nil, fmt.Errorf("tensorboard: learning rate: %w", err)
	}
	return r, nil
}

// at returns the rate of the step taken after n iterations.
func (r *rateGraph) at(n int64) (float32, error) {
	it, err := tf.NewTensor(n)
	if err != nil {
		return 0, err
	}
	out, err := r.sess.Run(map[tf.Output]*tf.Tensor{r.iterations: it}, []tf.Output{r.rate}, nil)
	if err != nil {
		return 0, fmt.Errorf("tensorboard: learning rate at step %d: %w", n+1, err)
	}
	v, ok := tfgraph.Value(out[0]).(float32)
	if !ok {
		return 0, fmt.Errorf("tensorboard: learning rate has type %T", tfgraph.Value(out[0]))
	}
	return v, nil
}

func (r *rateGraph) close() { r.sess.Close() }
