package models

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/data"
)

// ValidationConfig names a validation data set: an .npz with x and
// one-hot y, as the training data's.
type ValidationConfig struct {
	NPZ string `yaml:"npz"`
}

// EarlyStoppingConfig is keras.callbacks.EarlyStopping's settings (see
// loop.EarlyStopping): stop when Monitor has not improved by more than
// MinDelta for Patience epochs.
type EarlyStoppingConfig struct {
	Monitor            string   `yaml:"monitor"` // default val_loss
	Patience           int      `yaml:"patience"`
	MinDelta           float64  `yaml:"min_delta"`
	Mode               string   `yaml:"mode"` // auto (default), min or max
	RestoreBestWeights bool     `yaml:"restore_best_weights"`
	Baseline           *float64 `yaml:"baseline,omitempty"`
	StartFromEpoch     int      `yaml:"start_from_epoch,omitempty"`
}

// BestCheckpointConfig is keras.callbacks.ModelCheckpoint(
// save_best_only=True)'s settings (see loop.BestCheckpoint): keep the
// checkpoint of the epoch with the best Monitor.
type BestCheckpointConfig struct {
	Monitor  string  `yaml:"monitor"` // default val_loss
	Mode     string  `yaml:"mode"`    // auto (default), min or max
	MinDelta float64 `yaml:"min_delta"`
}

// The fit keys' parts, for the unknown-key errors.
func init() {
	knownKeys["models.ValidationConfig"] = struct{ where, keys string }{"validation", "npz"}
	knownKeys["models.EarlyStoppingConfig"] = struct{ where, keys string }{"early_stopping", "monitor, patience, min_delta, mode, restore_best_weights, baseline, start_from_epoch"}
	knownKeys["models.BestCheckpointConfig"] = struct{ where, keys string }{"best_checkpoint", "monitor, mode, min_delta"}
}

// The default monitored metric and the modes, as Keras's.
const (
	DefaultMonitor = "val_loss"
	modeAuto       = "auto"
)

// resolveFit fills in the fit keys' defaults.
func (c *Config) resolveFit() {
	if e := c.EarlyStopping; e != nil {
		if e.Monitor == "" {
			e.Monitor = DefaultMonitor
		}
		if e.Mode == "" {
			e.Mode = modeAuto
		}
	}
	if b := c.BestCheckpoint; b != nil {
		if b.Monitor == "" {
			b.Monitor = DefaultMonitor
		}
		if b.Mode == "" {
			b.Mode = modeAuto
		}
	}
}

// validateFit checks validation_split, validation, early_stopping and
// best_checkpoint. Whether a monitored metric exists is checked where the
// run's metrics are known (loop.EarlyStopping.Check).
func (c *Config) validateFit() error {
	if s := c.ValidationSplit; s != 0 && !(s > 0 && s < 1) {
		return fmt.Errorf("validation_split %g must be in (0, 1): the fraction of the data (its last examples, as Keras's) held out for validation", s)
	}
	if c.ValidationSplit != 0 && c.Validation != nil {
		return fmt.Errorf("give either validation_split (%g) or validation (npz: %s), not both", c.ValidationSplit, c.Validation.NPZ)
	}
	if c.Validation != nil && c.Validation.NPZ == "" {
		return fmt.Errorf("validation: npz is missing (an .npz with x and one-hot y, as the training data's)")
	}
	check := func(key, mode string, minDelta float64) error {
		switch mode {
		case "", modeAuto, "min", "max":
		default:
			return fmt.Errorf("%s: mode %q: want auto, min or max", key, mode)
		}
		if !(minDelta >= 0) || math.IsInf(minDelta, 0) {
			return fmt.Errorf("%s: min_delta %g must be finite and >= 0", key, minDelta)
		}
		return nil
	}
	if e := c.EarlyStopping; e != nil {
		if e.Patience < 0 {
			return fmt.Errorf("early_stopping: patience %d must be >= 0", e.Patience)
		}
		if e.StartFromEpoch < 0 {
			return fmt.Errorf("early_stopping: start_from_epoch %d must be >= 0", e.StartFromEpoch)
		}
		if err := check("early_stopping", e.Mode, e.MinDelta); err != nil {
			return err
		}
	}
	if b := c.BestCheckpoint; b != nil {
		if err := check("best_checkpoint", b.Mode, b.MinDelta); err != nil {
			return err
		}
	}
	return nil
}

// HasValidation reports whether the config asks for validation data.
func (c *Config) HasValidation() bool { return c.ValidationSplit != 0 || c.Validation != nil }

// SplitValidation returns the training and validation data the config
// asks for from the training data d: with validation_split, the last
// fraction of d (split at floor(N * (1 - split)), before any shuffling,
// as Keras's fit(validation_split=...)) is the validation data and the
// rest the training data; with validation: {npz: ...}, that file, checked
// against the model. Without either, d and nil.
func (c *Config) SplitValidation(d data.Dataset) (train data.Dataset, val *data.Dataset, err error) {
	switch {
	case c.ValidationSplit != 0:
		n := d.Len()
		at := int(math.Floor(float64(n) * (1 - c.ValidationSplit)))
		if at <= 0 || at >= n {
			return data.Dataset{}, nil, fmt.Errorf("validation_split %g of %d examples leaves %d for training and %d for validation; both need at least one", c.ValidationSplit, n, at, n-at)
		}
		if train, err = d.Slice(0, at); err != nil {
			return data.Dataset{}, nil, err
		}
		v, err := d.Slice(at, n)
		if err != nil {
			return data.Dataset{}, nil, err
		}
		if c.BatchSize > at {
			return data.Dataset{}, nil, fmt.Errorf("validation_split %g leaves %d training examples, fewer than batch_size %d", c.ValidationSplit, at, c.BatchSize)
		}
		return train, &v, nil
	case c.Validation != nil:
		m, err := c.Model()
		if err != nil {
			return data.Dataset{}, nil, err
		}
		v, err := c.readNPZ(c.Validation.NPZ, m)
		if err != nil {
			return data.Dataset{}, nil, fmt.Errorf("validation: %w", err)
		}
		return d, &v, nil
	}
	return d, nil, nil
}
