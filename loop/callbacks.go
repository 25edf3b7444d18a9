package loop

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
)

// The modes of a monitored metric, as Keras's: "min" (lower is better),
// "max", or "auto" (from the name: a loss is minimised, an accuracy
// maximised).
const (
	ModeAuto = "auto"
	ModeMin  = "min"
	ModeMax  = "max"
)

// monitor decides, as Keras's MonitorCallback, whether a metric's value
// improves on the best so far.
type monitor struct {
	name     string
	less     bool
	minDelta float64 // signed: negative when lower is better
	best     float32
	has      bool
}

// newMonitor checks a monitored metric's name against the metrics a run
// reports and its mode and min_delta, for the callback who.
func newMonitor(who, name, mode string, minDelta float64, metrics []string) (monitor, error) {
	if !slices.Contains(metrics, name) {
		why := ""
		if strings.HasPrefix(name, "val_") && !slices.Contains(metrics, MetricValLoss) {
			why = " (val_ metrics need validation data: validation_split or validation)"
		}
		return monitor{}, fmt.Errorf("%s: monitor %q is not a metric of this run%s; the metrics are %s", who, name, why, strings.Join(metrics, ", "))
	}
	if minDelta < 0 || math.IsNaN(minDelta) || math.IsInf(minDelta, 0) {
		return monitor{}, fmt.Errorf("%s: min_delta %g must be finite and >= 0", who, minDelta)
	}
	m := monitor{name: name}
	switch mode {
	case ModeMin:
		m.less = true
	case ModeMax:
	case ModeAuto, "":
		switch {
		case strings.HasSuffix(name, "loss"):
			m.less = true
		case strings.HasSuffix(name, "accuracy"):
		default:
			return monitor{}, fmt.Errorf("%s: mode auto cannot tell whether %s should fall or rise; give mode: min or mode: max", who, name)
		}
	default:
		return monitor{}, fmt.Errorf("%s: mode %q: want auto, min or max", who, mode)
	}
	m.minDelta = minDelta
	if m.less {
		m.minDelta = -minDelta
	}
	return m, nil
}

// better reports whether v improves on ref as Keras's
// monitor_op(v - min_delta, ref): the difference taken in float64 (Python
// floats), the comparison in float32 (keras.ops converts Python floats to
// float32 tensors).
func (m monitor) better(v, ref float32) bool {
	a := float32(float64(v) - m.minDelta)
	if m.less {
		return a < ref
	}
	return a > ref
}

// improves reports whether v improves on the best so far (always true for
// the first value). A NaN never improves (Keras would take a first NaN as
// the best).
func (m monitor) improves(v float32) bool {
	return !math.IsNaN(float64(v)) && (!m.has || m.better(v, m.best))
}

// EarlyStopping stops training when a monitored metric has stopped
// improving, with the semantics of keras.callbacks.EarlyStopping: an epoch
// improves when its value beats the best so far by more than MinDelta;
// training stops at the end of the epoch after Patience epochs in a row
// without improvement (Patience 0: the first epoch that does not
// improve), never at the first epoch. A monitored metric the run does
// not report is an error before training starts.
type EarlyStopping struct {
	Monitor  string  // default val_loss
	MinDelta float64 // >= 0
	Patience int     // >= 0
	Mode     string  // auto (default), min or max
	// Baseline, if set, must be beaten for an improvement to reset the
	// count of epochs without improvement.
	Baseline *float64
	// RestoreBestWeights sets the model's weights (and quantizer ranges)
	// back to those at the end of the best epoch when training ends.
	RestoreBestWeights bool
	// StartFromEpoch is the number of epochs to ignore at the start (a
	// warm-up).
	StartFromEpoch int

	// StoppedEpoch is the epoch (1-based) at whose end training was
	// stopped, 0 if it was not; BestEpoch is the best epoch, Best its
	// value.
	StoppedEpoch, BestEpoch int
	Best                    float32

	mon     monitor
	wait    int
	tr      *Trainer
	weights data.Weights
}

// Check checks the settings against the names of the metrics a run
// reports (FitMetrics) and resets the state.
func (e *EarlyStopping) Check(metrics []string) error {
	if e.Monitor == "" {
		e.Monitor = MetricValLoss
	}
	if e.Patience < 0 {
		return fmt.Errorf("early_stopping: patience %d must be >= 0", e.Patience)
	}
	if e.StartFromEpoch < 0 {
		return fmt.Errorf("early_stopping: start_from_epoch %d must be >= 0", e.StartFromEpoch)
	}
	m, err := newMonitor("early_stopping", e.Monitor, e.Mode, e.MinDelta, metrics)
	if err != nil {
		return err
	}
	e.mon, e.wait, e.StoppedEpoch, e.BestEpoch, e.Best, e.weights = m, 0, 0, 0, 0, nil
	return nil
}

// Observe takes the monitored metric's value at the end of epoch (1-based)
// and reports whether training should stop (Check must have been called).
func (e *EarlyStopping) Observe(epoch int, v float32) (stop bool, err error) {
	if epoch-1 < e.StartFromEpoch {
		return false, nil
	}
	if e.RestoreBestWeights && e.weights == nil {
		if err := e.keepWeights(epoch); err != nil {
			return false, err
		}
	}
	e.wait++
	if e.mon.improves(v) {
		e.mon.best, e.mon.has, e.Best, e.BestEpoch = v, true, v, epoch
		if e.RestoreBestWeights {
			if err := e.keepWeights(epoch); err != nil {
				return false, err
			}
		}
		if e.Baseline == nil || e.mon.better(v, float32(*e.Baseline)) {
			e.wait = 0
		}
		return false, nil
	}
	if e.wait >= e.Patience && epoch > 1 {
		e.StoppedEpoch = epoch
		return true, nil
	}
	return false, nil
}

// keepWeights copies the trainer's model variables and ranges aside.
func (e *EarlyStopping) keepWeights(epoch int) error {
	if e.tr == nil {
		return nil
	}
	w, err := e.tr.Weights()
	if err != nil {
		return fmt.Errorf("early_stopping: keep the weights of epoch %d: %w", epoch, err)
	}
	r, err := e.tr.Ranges()
	if err != nil {
		return fmt.Errorf("early_stopping: keep the ranges of epoch %d: %w", epoch, err)
	}
	for k, v := range r {
		w[k] = v
	}
	e.weights = w
	return nil
}

// TrainBegin checks the monitored metric and remembers the trainer.
func (e *EarlyStopping) TrainBegin(i FitInfo) error {
	if err := e.Check(i.Metrics); err != nil {
		return err
	}
	e.tr = i.Trainer
	return nil
}

// StepEnd does nothing.
func (e *EarlyStopping) StepEnd(StepResult) error { return nil }

// EpochEnd observes the epoch's monitored metric and returns
// ErrStopTraining to stop.
func (e *EarlyStopping) EpochEnd(r EpochResult) error {
	v, _ := r.Metric(e.Monitor)
	stop, err := e.Observe(r.Epoch, v)
	if err != nil {
		return err
	}
	if stop {
		return ErrStopTraining
	}
	return nil
}

// TrainEnd restores the best epoch's weights if RestoreBestWeights is set
// (as Keras, whether or not training stopped early).
func (e *EarlyStopping) TrainEnd(History) error {
	if e.weights == nil || e.tr == nil {
		return nil
	}
	if err := e.tr.SetWeights(e.weights); err != nil {
		return fmt.Errorf("early_stopping: restore the weights of epoch %d: %w", e.BestEpoch, err)
	}
	return nil
}

// BestCheckpoint keeps in Dir a checkpoint of the trainer at the end of
// the best epoch so far by a monitored metric, as Keras's
// ModelCheckpoint(save_best_only=True): after each epoch that improves on
// the best (by more than MinDelta), it writes the trainer's checkpoint
// (Trainer.Save, atomic) into Dir and then removes the one it replaces.
type BestCheckpoint struct {
	Dir      string
	Monitor  string // default val_loss
	Mode     string // auto (default), min or max
	MinDelta float64

	// Path is the newest best checkpoint, Epoch its epoch and Best its
	// value.
	Path  string
	Epoch int
	Best  float32

	mon monitor
	tr  *Trainer
}

// Check checks the settings against the names of the metrics a run
// reports (FitMetrics) and resets the state.
func (b *BestCheckpoint) Check(metrics []string) error {
	if b.Monitor == "" {
		b.Monitor = MetricValLoss
	}
	if b.Dir == "" {
		return fmt.Errorf("best_checkpoint: no folder given")
	}
	m, err := newMonitor("best_checkpoint", b.Monitor, b.Mode, b.MinDelta, metrics)
	b.mon, b.Path, b.Epoch, b.Best = m, "", 0, 0
	return err
}

// TrainBegin checks the monitored metric and remembers the trainer.
func (b *BestCheckpoint) TrainBegin(i FitInfo) error {
	if err := b.Check(i.Metrics); err != nil {
		return err
	}
	b.tr = i.Trainer
	return nil
}

// StepEnd does nothing.
func (b *BestCheckpoint) StepEnd(StepResult) error { return nil }

// EpochEnd saves the trainer if the epoch is the best so far.
func (b *BestCheckpoint) EpochEnd(r EpochResult) error {
	v, _ := r.Metric(b.Monitor)
	if !b.mon.improves(v) {
		return nil
	}
	b.mon.best, b.mon.has = v, true
	path, err := b.tr.Save(b.Dir)
	if err != nil {
		return fmt.Errorf("best_checkpoint: epoch %d: %w", r.Epoch, err)
	}
	old, err := Checkpoints(b.Dir)
	if err != nil {
		return fmt.Errorf("best_checkpoint: %w", err)
	}
	for _, c := range old {
		if c.Path != path {
			if err := os.RemoveAll(c.Path); err != nil {
				return fmt.Errorf("best_checkpoint: remove %s: %w", c.Path, err)
			}
		}
	}
	b.Path, b.Epoch, b.Best = path, r.Epoch, v
	return nil
}

// TrainEnd does nothing.
func (b *BestCheckpoint) TrainEnd(History) error { return nil }

// NewEarlyStopping returns the EarlyStopping a config's early_stopping
// block describes (checked when training begins, or by Check).
func NewEarlyStopping(c models.EarlyStoppingConfig) *EarlyStopping {
	return &EarlyStopping{Monitor: c.Monitor, MinDelta: c.MinDelta, Patience: c.Patience, Mode: c.Mode,
		Baseline: c.Baseline, RestoreBestWeights: c.RestoreBestWeights, StartFromEpoch: c.StartFromEpoch}
}

// NewBestCheckpoint returns the BestCheckpoint a config's best_checkpoint
// block describes, writing into dir.
func NewBestCheckpoint(c models.BestCheckpointConfig, dir string) *BestCheckpoint {
	return &BestCheckpoint{Dir: dir, Monitor: c.Monitor, Mode: c.Mode, MinDelta: c.MinDelta}
}
