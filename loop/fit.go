package loop

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/qat-go/qat/data"
)

// The names of the metrics an epoch reports (EpochResult.Metric), as
// Keras's fit logs name them; the val_float_ ones are qat's own: the
// validation data with every quantizer off.
const (
	MetricLoss             = "loss"
	MetricAccuracy         = "accuracy"
	MetricValLoss          = "val_loss"
	MetricValAccuracy      = "val_accuracy"
	MetricValFloatLoss     = "val_float_loss"
	MetricValFloatAccuracy = "val_float_accuracy"
	MetricLearningRate     = "learning_rate"
)

// ErrStopTraining, returned by a callback's StepEnd or EpochEnd, ends Fit
// after that step or epoch without an error, as setting Keras's
// model.stop_training does.
var ErrStopTraining = errors.New("stop training")

// FitConfig says how long Fit trains and on what it validates.
type FitConfig struct {
	// Epochs is the number of the last epoch: Fit trains epochs
	// StepsDone()/StepsPerEpoch+1 to Epochs (all of them for a new
	// trainer, the rest for a restored one).
	Epochs int
	// StepsPerEpoch is the number of steps of an epoch; 0 means one pass
	// over the training data (N / batch size, the last partial batch
	// dropped; 1 step when the trainer trains on the whole data set).
	StepsPerEpoch int
	// Steps, if > 0, ends training after that many steps in all (counting
	// the trainer's earlier ones), in the middle of the last epoch if it
	// falls there.
	Steps int
	// Validation, if set, is evaluated at the end of every epoch in the
	// inference graph: with the trained ranges (val_loss, val_accuracy)
	// and, for a quantized model, with every quantizer off
	// (val_float_loss, val_float_accuracy).
	Validation *data.Dataset
	// ValidationBatchSize is how many validation examples run at once,
	// as Keras's validation_batch_size; 0 means the training batch size,
	// as in Keras.
	ValidationBatchSize int
}

// FitInfo is what callbacks learn when training begins.
type FitInfo struct {
	Trainer       *Trainer
	FirstEpoch    int // 1-based
	Epochs        int
	StepsPerEpoch int
	// Metrics are the names every EpochResult of this run reports.
	Metrics []string
}

// EpochResult reports one finished epoch. Loss and Accuracy are over the
// epoch's training steps, as Keras's fit reports them: each step's loss
// and right predictions come from the step's own forward pass (training
// mode, before its update), averaged over the epoch weighted by batch
// size in float32. The Val fields are NaN without validation data.
type EpochResult struct {
	Epoch    int // 1-based
	Step     int // the steps done at its end
	Loss     float32
	Accuracy float32
	// ValLoss and ValAccuracy are the validation data's in the inference
	// graph with the trained ranges; ValFloatLoss and ValFloatAccuracy
	// with every quantizer off (equal to the former for a float model).
	ValLoss, ValAccuracy           float32
	ValFloatLoss, ValFloatAccuracy float32
	// LearningRate is the rate the next step will use (NaN for an
	// optimizer other than Adam and SGD).
	LearningRate float32
}

// HasValidation reports whether the epoch was validated.
func (e EpochResult) HasValidation() bool { return !math.IsNaN(float64(e.ValLoss)) }

// Metric returns the value of a metric by its name (MetricLoss, ...) and
// whether the epoch has it.
func (e EpochResult) Metric(name string) (float32, bool) {
	p := e.field(name)
	if p == nil {
		return 0, false
	}
	v := *p
	if name != MetricLearningRate && math.IsNaN(float64(v)) && !math.IsNaN(float64(e.Loss)) {
		return 0, false
	}
	return v, true
}

// SetMetric sets the metric of that name (MetricLoss, ...) and reports
// whether there is one.
func (e *EpochResult) SetMetric(name string, v float32) bool {
	p := e.field(name)
	if p != nil {
		*p = v
	}
	return p != nil
}

// field is the metric of that name's field, nil for another name.
func (e *EpochResult) field(name string) *float32 {
	switch name {
	case MetricLoss:
		return &e.Loss
	case MetricAccuracy:
		return &e.Accuracy
	case MetricValLoss:
		return &e.ValLoss
	case MetricValAccuracy:
		return &e.ValAccuracy
	case MetricValFloatLoss:
		return &e.ValFloatLoss
	case MetricValFloatAccuracy:
		return &e.ValFloatAccuracy
	case MetricLearningRate:
		return &e.LearningRate
	}
	return nil
}

// History is what Fit did: one result per epoch it finished.
type History struct {
	Epochs []EpochResult
	// Stopped is set when a callback ended training early
	// (ErrStopTraining).
	Stopped bool
}

// Callback is called by Fit as Keras calls a keras.callbacks.Callback:
// TrainBegin before the first step (an error there stops Fit before any
// step), StepEnd after every step, EpochEnd after every epoch (with its
// validation), and TrainEnd once training ended without an error. StepEnd
// and EpochEnd may return ErrStopTraining to end training early.
type Callback interface {
	TrainBegin(FitInfo) error
	StepEnd(StepResult) error
	EpochEnd(EpochResult) error
	TrainEnd(History) error
}

// CallbackFuncs is a Callback made of optional functions; a nil one does
// nothing.
type CallbackFuncs struct {
	OnTrainBegin func(FitInfo) error
	OnStepEnd    func(StepResult) error
	OnEpochEnd   func(EpochResult) error
	OnTrainEnd   func(History) error
}

// TrainBegin calls OnTrainBegin if set.
func (c CallbackFuncs) TrainBegin(i FitInfo) error { return call(c.OnTrainBegin, i) }

// StepEnd calls OnStepEnd if set.
func (c CallbackFuncs) StepEnd(r StepResult) error { return call(c.OnStepEnd, r) }

// EpochEnd calls OnEpochEnd if set.
func (c CallbackFuncs) EpochEnd(r EpochResult) error { return call(c.OnEpochEnd, r) }

// TrainEnd calls OnTrainEnd if set.
func (c CallbackFuncs) TrainEnd(h History) error { return call(c.OnTrainEnd, h) }

func call[T any](f func(T) error, v T) error {
	if f == nil {
		return nil
	}
	return f(v)
}

// FitMetrics returns the names of the metrics a Fit with (or without)
// validation data reports.
func FitMetrics(validation bool) []string {
	m := []string{MetricLoss, MetricAccuracy}
	if validation {
		m = append(m, MetricValLoss, MetricValAccuracy, MetricValFloatLoss, MetricValFloatAccuracy)
	}
	return append(m, MetricLearningRate)
}

// Fit trains tr epoch by epoch, as Keras's Model.fit does, calling the
// callbacks, and returns the epochs it finished. It stops early when ctx
// is done, a step diverges (a *DivergedError, the trainer holding the
// last good state) or a callback returns an error; the History then holds
// the epochs finished before. A callback's ErrStopTraining ends it without
// an error, with History.Stopped set.
func Fit(ctx context.Context, tr *Trainer, cfg FitConfig, callbacks ...Callback) (History, error) {
	spe := cfg.StepsPerEpoch
	if spe == 0 {
		spe = 1
		if tr.batches != nil {
			spe = tr.batches.StepsPerEpoch()
		}
	}
	switch {
	case cfg.Epochs < 1:
		return History{}, fmt.Errorf("fit: epochs %d must be >= 1", cfg.Epochs)
	case spe < 1:
		return History{}, fmt.Errorf("fit: steps per epoch %d must be >= 1", cfg.StepsPerEpoch)
	case cfg.Steps < 0:
		return History{}, fmt.Errorf("fit: steps %d must be >= 0", cfg.Steps)
	case cfg.ValidationBatchSize < 0:
		return History{}, fmt.Errorf("fit: validation batch size %d must be >= 0", cfg.ValidationBatchSize)
	}
	last := cfg.Epochs * spe
	if cfg.Steps > 0 {
		last = min(last, cfg.Steps)
	}
	vb := cfg.ValidationBatchSize
	if vb == 0 {
		vb = tr.batch
	}
	if v := cfg.Validation; v != nil {
		if err := v.ValidateLabels(tr.def.Input, tr.def.Classes(), tr.labels); err != nil {
			return History{}, fmt.Errorf("fit: validation %w", err)
		}
	}
	done := tr.StepsDone()
	if done >= last {
		return History{}, fmt.Errorf("fit: the trainer has done %d steps, epoch %d ends at step %d", done, cfg.Epochs, last)
	}
	info := FitInfo{Trainer: tr, FirstEpoch: done/spe + 1, Epochs: cfg.Epochs, StepsPerEpoch: spe, Metrics: FitMetrics(cfg.Validation != nil)}
	for _, c := range callbacks {
		if err := c.TrainBegin(info); err != nil {
			return History{}, err
		}
	}
	var h History
	for epoch := info.FirstEpoch; done < last; epoch++ {
		end := min(epoch*spe, last)
		// A restored trainer may be in the middle of the epoch.
		loss, acc := tr.epochSoFar(max((epoch-1)*spe, 0))
		err := tr.Run(ctx, end-done, func(r StepResult) error {
			loss.addLoss(r.Loss, r.Examples)
			acc.add(r.Correct, float32(r.Examples))
			for _, c := range callbacks {
				if err := c.StepEnd(r); err != nil {
					return err
				}
			}
			return nil
		})
		stop := errors.Is(err, ErrStopTraining)
		if err != nil && !stop {
			return h, err
		}
		done = tr.StepsDone()
		res, err := tr.epochResult(epoch, loss.result(), acc.result(), cfg.Validation, vb)
		if err != nil {
			return h, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		h.Epochs = append(h.Epochs, res)
		for _, c := range callbacks {
			if err := c.EpochEnd(res); errors.Is(err, ErrStopTraining) {
				stop = true
			} else if err != nil {
				return h, err
			}
		}
		if stop {
			h.Stopped = true
			break
		}
	}
	for _, c := range callbacks {
		if err := c.TrainEnd(h); err != nil {
			return h, err
		}
	}
	return h, nil
}

// epochResult completes an epoch's result with the learning rate and the
// validation metrics.
func (t *Trainer) epochResult(epoch int, loss, acc float32, val *data.Dataset, batch int) (EpochResult, error) {
	nan := float32(math.NaN())
	r := EpochResult{Epoch: epoch, Step: t.StepsDone(), Loss: loss, Accuracy: acc,
		ValLoss: nan, ValAccuracy: nan, ValFloatLoss: nan, ValFloatAccuracy: nan}
	t.mu.Lock()
	lr, err := t.learningRate()
	t.mu.Unlock()
	if err != nil {
		return r, err
	}
	r.LearningRate = lr
	if val == nil {
		return r, nil
	}
	fq, err := t.Metrics(*val, batch)
	if err != nil {
		return r, fmt.Errorf("validation: %w", err)
	}
	fl := fq
	if t.def.Scheme != nil {
		if fl, err = t.floatMetrics(*val, batch); err != nil {
			return r, fmt.Errorf("validation (float): %w", err)
		}
	}
	r.ValLoss, r.ValAccuracy, r.ValFloatLoss, r.ValFloatAccuracy = fq.Loss, fq.Accuracy, fl.Loss, fl.Accuracy
	return r, nil
}

// floatMetrics evaluates the current weights with every quantizer off,
// in an Evaluator of their own.
func (t *Trainer) floatMetrics(d data.Dataset, batch int) (Metrics, error) {
	w, err := t.Weights()
	if err != nil {
		return Metrics{}, err
	}
	m := t.def
	m.Scheme = nil
	ev, err := NewEvaluatorWithLoss(m, w, nil, t.sessionConfig, t.lossCfg)
	if err != nil {
		return Metrics{}, err
	}
	defer ev.Close()
	return ev.Metrics(d, batch)
}
