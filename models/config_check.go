package models

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/internal/measure"
	"github.com/qat-go/qat/tfgraph"
)

// Validate checks every setting and names the first problem (and its
// layer).
func (c *Config) Validate() error {
	if c.Input == nil && c.Inputs <= 0 {
		return fmt.Errorf("inputs %d must be > 0", c.Inputs)
	}
	for _, d := range c.Input {
		if d <= 0 {
			return fmt.Errorf("input shape %v: every dimension must be > 0", c.Input)
		}
	}
	for _, f := range []struct {
		key, zero string
		v         int
	}{
		{"batch_size", "the whole data set each step", c.BatchSize},
		{"epochs", "train for steps instead", c.Epochs},
		{"calibration_batches", "start the ranges at [-6, 6]", c.CalibrationBatches},
	} {
		if f.v < 0 {
			return fmt.Errorf("%s %d must be > 0 (or omit it: %s)", f.key, f.v, f.zero)
		}
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"epochs", c.Epochs}, {"calibration_batches", c.CalibrationBatches}} {
		if f.v > 0 && c.BatchSize == 0 {
			return fmt.Errorf("%s %d needs batch_size (the examples per step)", f.key, f.v)
		}
	}
	if err := c.Scheme.Validate(); err != nil {
		return err
	}
	if err := c.validateFit(); err != nil {
		return err
	}
	if c.Steps <= 0 {
		return fmt.Errorf("steps %d must be > 0", c.Steps)
	}
	if err := c.Optimizer.Validate(); err != nil {
		return err
	}
	if err := c.Loss.Validate(); err != nil {
		return err
	}
	if sc := c.Data.Scale; sc != 0 && !(sc > 0 && sc <= math.MaxFloat32) {
		return fmt.Errorf("data: scale %g must be finite and > 0 (e.g. 1/255 for uint8 images)", sc)
	}
	if _, err := tfgraph.ParseNumerics(string(c.Numerics)); err != nil {
		return err
	}
	switch {
	case c.Data.Examples != 0 && c.Data.NPZ != "":
		return fmt.Errorf("data: give either examples or npz, not both")
	case c.Data.NPZ == "" && !c.Data.MNIST && c.Data.Examples <= 0:
		return fmt.Errorf("data: examples %d must be > 0 (or give npz: path)", c.Data.Examples)
	}
	if len(c.Layers) == 0 {
		return fmt.Errorf("no layers: give at least one under \"layers:\"")
	}
	seen := map[string]int{}
	for i, l := range c.Layers {
		where := fmt.Sprintf("layer %d (%s)", i+1, l.Name)
		if !layerName.MatchString(l.Name) {
			return fmt.Errorf("layer %d: name %q must be letters, digits, '_', '.' or '-'", i+1, l.Name)
		}
		if j, ok := seen[l.Name]; ok {
			return fmt.Errorf("%s: layer %d has the same name; names must differ", where, j)
		}
		seen[l.Name] = i + 1
		if _, err := l.layer(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	m, err := c.model()
	if err != nil {
		return err
	}
	// Refuse a model or synthetic data too large for memory before any of
	// it is allocated.
	batch, dataBytes := int64(c.BatchSize), int64(0)
	switch {
	case c.Data.NPZ != "":
		// The file's size is known when it is read (ReadDataset).
	case c.Data.MNIST:
		if batch == 0 {
			batch = mnistTrainExamples
		}
	default:
		if batch == 0 {
			batch = int64(c.Data.Examples)
		}
		in, _ := measure.Elements(m.Input)
		dataBytes = measure.Mul(measure.Mul(int64(c.Data.Examples), measure.Add(in, int64(m.Classes()))), 4)
	}
	return m.CheckMemory(batch, true, dataBytes)
}

// mnistTrainExamples is the size of MNIST's training set (data/mnist).
const mnistTrainExamples = 60000

// Validate checks the optimizer's name and numbers.
func (o OptimizerConfig) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if o.Name != OptimizerAdam && o.Name != OptimizerAdamW && o.Name != OptimizerSGD {
		return fmt.Errorf("optimizer: unknown name %q (supported: %s, %s, %s)", o.Name, OptimizerAdam, OptimizerAdamW, OptimizerSGD)
	}
	if o.Schedule != nil {
		if err := o.Schedule.check(); err != nil {
			return err
		}
	}
	// A schedule's numbers (a cosine warm-up may start at 0) are checked
	// where the optimizer is made (loop.NewOptimizer).
	if o.Schedule == nil && !(o.LearningRate > 0 && finite(o.LearningRate)) {
		return fmt.Errorf("optimizer: learning_rate %g must be finite and > 0", o.LearningRate)
	}
	if !(o.WeightDecay >= 0 && finite(o.WeightDecay)) {
		return fmt.Errorf("optimizer: weight_decay %g must be finite and >= 0", o.WeightDecay)
	}
	if o.Name == OptimizerSGD {
		if !(o.Momentum >= 0 && o.Momentum <= 1) {
			return fmt.Errorf("optimizer: momentum %g must be in [0, 1]", o.Momentum)
		}
		return nil
	}
	switch {
	case !(o.Beta1 >= 0 && o.Beta1 < 1):
		return fmt.Errorf("optimizer: beta_1 %g must be in [0, 1)", o.Beta1)
	case !(o.Beta2 >= 0 && o.Beta2 < 1):
		return fmt.Errorf("optimizer: beta_2 %g must be in [0, 1)", o.Beta2)
	case !(o.Epsilon > 0 && finite(o.Epsilon)):
		return fmt.Errorf("optimizer: epsilon %g must be finite and > 0", o.Epsilon)
	}
	return nil
}

// Validate checks the bit width and that the range is finite, fits in
// float32 and is not empty.
func (q QuantizerConfig) Validate() error {
	for _, v := range []struct {
		what string
		v    float64
	}{{"min", q.Min}, {"max", q.Max}} {
		if math.IsNaN(v.v) || math.IsInf(v.v, 0) {
			return fmt.Errorf("%s is %v; the range must be finite", v.what, v.v)
		}
		if math.Abs(v.v) > math.MaxFloat32 {
			return fmt.Errorf("%s %g does not fit in float32", v.what, v.v)
		}
	}
	if q.Min >= q.Max {
		return fmt.Errorf("min %g must be < max %g", q.Min, q.Max)
	}
	return q.quantizer().Validate() // bits, and a range that float32 rounding emptied
}

// InputShape is the per-example input shape: Input, or [Inputs].
func (c *Config) InputShape() []int64 {
	if c.Input != nil {
		return c.Input
	}
	return []int64{int64(c.Inputs)}
}

// StepsFor checks the settings that depend on the size of the training
// data, n examples, and returns the number of steps the run makes: Steps,
// or Epochs passes of n / BatchSize steps. batch_size must not exceed n,
// and calibration_batches must not exceed the batches in one pass.
func (c *Config) StepsFor(n int) (int, error) {
	if n <= 0 {
		return 0, fmt.Errorf("data: no examples")
	}
	if c.BatchSize <= 0 && (c.Epochs > 0 || c.CalibrationBatches > 0) {
		return 0, fmt.Errorf("epochs and calibration_batches need batch_size")
	}
	if c.BatchSize > n {
		return 0, fmt.Errorf("batch_size %d is more than the data's %d examples", c.BatchSize, n)
	}
	if c.CalibrationBatches > 0 && c.CalibrationBatches > n/c.BatchSize {
		return 0, fmt.Errorf("calibration_batches %d is more than the data's %d batches of %d (%d examples)",
			c.CalibrationBatches, n/c.BatchSize, c.BatchSize, n)
	}
	if c.Epochs <= 0 {
		return c.Steps, nil
	}
	perEpoch := n / c.BatchSize
	if c.Epochs > math.MaxInt32/perEpoch {
		return 0, fmt.Errorf("epochs %d of %d steps each: more than %d steps", c.Epochs, perEpoch, math.MaxInt32)
	}
	return c.Epochs * perEpoch, nil
}
