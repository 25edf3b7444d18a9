package models

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	"gopkg.in/yaml.v3"
)

// Config describes a training run: the model, its quantizers, the data, the
// optimizer and the number of steps. It is read from YAML such as
//
//	# qat train config
//	inputs: 10            # features per example
//	seed: 1               # initialiser + synthetic-data seed (default 1)
//	steps: 100            # default 100
//	optimizer: {name: adam, learning_rate: 0.01, beta_1: 0.9, beta_2: 0.999, epsilon: 1.0e-7, fused: false}
//	data: {examples: 100} # synthetic N(0,1) data (the default), or {npz: data.npz} with x [N, inputs], y one-hot [N, classes]
//	                      # (uint8 x needs scale, e.g. {npz: images.npz, scale: 1/255})
//	loss: {name: categorical_crossentropy, label_smoothing: 0.1}  # the default without smoothing; or sparse_categorical_crossentropy (y: class ids [N]), mse, binary_crossentropy
//	init: weights.npz     # optional initial weights by variable: "<layer>/weight_fp", "<layer>/bias_fp" here (dense, conv2d: "<layer>/kernel", "<layer>/bias")
//	layers:
//	  - name: layer1      # default layer<i>
//	    units: 32
//	    weights: {min: -0.1, max: 0.1, num_bits: 8, narrow_range: false}
//	    bias:    {min: -0.1, max: 0.1}   # num_bits defaults to 8
//	    output:  {min: -1, max: 1}       # omit a quantizer to leave that tensor in float
//	  - {name: layer2, units: 10, weights: {min: -0.1, max: 0.1}}
//
// Omitted optimizer fields take Keras's Adam defaults. Unknown keys are
// errors. ParseConfig and LoadConfig fill in the defaults, so a Config they
// return has every field set; a Config built in code should be checked with
// Validate.
type Config struct {
	// Inputs is the feature count of vector inputs; Input is the shape of
	// any input (e.g. [28, 28, 1]). Give one.
	Inputs int     `yaml:"inputs,omitempty"`
	Input  []int64 `yaml:"input,omitempty,flow"`
	Seed   uint64  `yaml:"seed"`
	// Steps is the number of training steps; a config gives steps or
	// epochs, not both.
	Steps int `yaml:"steps,omitempty"`
	// BatchSize is the mini-batch size (0: the whole data set each step).
	BatchSize int `yaml:"batch_size,omitempty"`
	// Epochs, if set, replaces Steps with Epochs passes over the data
	// (N / BatchSize steps each; see StepsFor).
	Epochs int `yaml:"epochs,omitempty"`
	// CalibrationBatches, if set, starts the quantizer ranges from a float
	// pass over that many training batches instead of tfmot's [-6, 6].
	CalibrationBatches int             `yaml:"calibration_batches,omitempty"`
	Optimizer          OptimizerConfig `yaml:"optimizer,flow"`
	// Loss is the training loss (default categorical_crossentropy on
	// one-hot labels), which decides the form of the data's y.
	Loss Loss       `yaml:"loss,omitempty,flow"`
	Data DataConfig `yaml:"data,flow"`
	// Init is an optional .npz of initial weights for every model
	// variable; a variable it lacks or a name the model lacks is an error.
	Init   string        `yaml:"init,omitempty"`
	Layers []LayerConfig `yaml:"layers"`
	// Output names the layer whose output is the model's (default: the
	// last layer).
	Output string `yaml:"output,omitempty"`
	// Scheme quantizes layers of the types other than quantized_dense
	// (whose fixed ranges are in the layer); omit it for a float model.
	Scheme *qat.Scheme `yaml:"scheme,omitempty"`
	// FoldBatchNorm folds each conv2d (no_bias) + batch_norm pair.
	FoldBatchNorm bool `yaml:"fold_batch_norm,omitempty"`
	// Numerics is whose results training reproduces bit for bit: "graph"
	// (tf.function and Keras fit; the default, and faster) or "eager"
	// (eager TensorFlow, such as the article's GradientTape loop). See
	// tfgraph.Numerics.
	Numerics tfgraph.Numerics `yaml:"numerics,omitempty"`
	// ValidationSplit (in (0, 1)) holds out the last fraction of the
	// training data for validation; Validation names a validation .npz
	// instead. EarlyStopping and BestCheckpoint are the Keras callbacks.
	// See config_fit.go.
	ValidationSplit float64               `yaml:"validation_split,omitempty"`
	Validation      *ValidationConfig     `yaml:"validation,omitempty,flow"`
	EarlyStopping   *EarlyStoppingConfig  `yaml:"early_stopping,omitempty,flow"`
	BestCheckpoint  *BestCheckpointConfig `yaml:"best_checkpoint,omitempty,flow"`
}

// DataConfig chooses the training data: Examples synthetic examples drawn
// as in the article (x ~ N(0, 1), uniform one-hot labels, from the run's
// seed), or the arrays x and y of the .npz file NPZ. Exactly one is set.
type DataConfig struct {
	Examples int    `yaml:"examples,omitempty"`
	NPZ      string `yaml:"npz,omitempty"`
	// MNIST selects the embedded MNIST digits (loaded by the caller through
	// data/mnist, which Dataset cannot import).
	MNIST bool `yaml:"mnist,omitempty"`
	// Scale, if not 0, multiplies the .npz's x as numpy's
	// x.astype(float32) * scale does (a float32 product); a uint8 x
	// needs it (1/255 maps bytes to [0, 1]).
	Scale float64 `yaml:"scale,omitempty"`
}

// LayerConfig is one layer. Type is one of LayerTypes; the other fields
// apply to the types that have them (see Layer). A nil quantizer leaves
// that tensor in float (quantized_dense only; other types follow the
// scheme).
type LayerConfig struct {
	Type string `yaml:"type,omitempty"`
	Name string `yaml:"name"`
	// Inputs names the layers (or "input", the model's) whose outputs the
	// layer takes; omitted, it takes the previous layer's.
	Inputs []string `yaml:"inputs,omitempty,flow"`
	Axis   int      `yaml:"axis,omitempty"`
	Pad    []int    `yaml:"pad,omitempty,flow"`
	Rate   float64  `yaml:"rate,omitempty"`
	Shape  []int64  `yaml:"shape,omitempty,flow"`
	// Fused, for a batch_norm, false takes Keras's non-fused path on 4-D
	// input too (Keras's fused=False, and Keras 3's only path); nil or true,
	// tf_keras's default FusedBatchNormV3.
	Fused      *bool            `yaml:"fused,omitempty"`
	Units      int              `yaml:"units,omitempty"`
	Filters    int              `yaml:"filters,omitempty"`
	Multiplier int              `yaml:"multiplier,omitempty"`
	Kernel     []int            `yaml:"kernel,omitempty,flow"`
	Strides    []int            `yaml:"strides,omitempty,flow"`
	Size       []int            `yaml:"size,omitempty,flow"`
	Padding    string           `yaml:"padding,omitempty"`
	Activation string           `yaml:"activation,omitempty"`
	NoBias     bool             `yaml:"no_bias,omitempty"`
	Momentum   float64          `yaml:"momentum,omitempty"`
	Epsilon    float64          `yaml:"epsilon,omitempty"`
	Weights    *QuantizerConfig `yaml:"weights,omitempty,flow"`
	Bias       *QuantizerConfig `yaml:"bias,omitempty,flow"`
	Output     *QuantizerConfig `yaml:"output,omitempty,flow"`
}

// QuantizerConfig is a fixed-range fake quantizer (qat.FixedRange).
type QuantizerConfig struct {
	Min         float64 `yaml:"min"`
	Max         float64 `yaml:"max"`
	NumBits     int     `yaml:"num_bits"`
	NarrowRange bool    `yaml:"narrow_range"`
}

// Defaults filled in by ParseConfig when a key is omitted.
const (
	DefaultSteps    = 100
	DefaultSeed     = 1
	DefaultExamples = 100
	// The optimizers' names.
	OptimizerAdam  = "adam"
	OptimizerAdamW = "adamw"
	OptimizerSGD   = "sgd"
	// Keras's AdamW default weight decay.
	DefaultAdamWWeightDecay = 0.004
	// Keras's SGD default learning rate.
	DefaultSGDLearningRate = 0.01
	// Keras's Adam defaults.
	DefaultLearningRate = 0.001
	DefaultBeta1        = 0.9
	DefaultBeta2        = 0.999
	DefaultEpsilon      = 1e-7
)

// The YAML as written, with pointers where an omitted key gets a default or
// must be reported as missing.
type (
	rawConfig struct {
		Inputs    *int          `yaml:"inputs"`
		Input     []int64       `yaml:"input"`
		BatchSize int           `yaml:"batch_size"`
		Epochs    int           `yaml:"epochs"`
		Calib     int           `yaml:"calibration_batches"`
		Scheme    *qat.Scheme   `yaml:"scheme"`
		Fold      bool          `yaml:"fold_batch_norm"`
		Seed      *uint64       `yaml:"seed"`
		Steps     *int          `yaml:"steps"`
		Optimizer *rawOptimizer `yaml:"optimizer"`
		Loss      *rawLoss      `yaml:"loss"`
		Data      *rawData      `yaml:"data"`
		Init      string        `yaml:"init"`
		Layers    []rawLayer    `yaml:"layers"`
		Output    string        `yaml:"output"`
		Numerics  string        `yaml:"numerics"`

		// The fit keys (config_fit.go).
		Split float64               `yaml:"validation_split"`
		Valid *ValidationConfig     `yaml:"validation"`
		Early *EarlyStoppingConfig  `yaml:"early_stopping"`
		Best  *BestCheckpointConfig `yaml:"best_checkpoint"`
	}
	rawOptimizer struct {
		Name         *string         `yaml:"name"`
		LearningRate *float64        `yaml:"learning_rate"`
		Beta1        *float64        `yaml:"beta_1"`
		Beta2        *float64        `yaml:"beta_2"`
		Epsilon      *float64        `yaml:"epsilon"`
		Fused        *bool           `yaml:"fused"`
		Momentum     *float64        `yaml:"momentum"`
		Nesterov     *bool           `yaml:"nesterov"`
		WeightDecay  *float64        `yaml:"weight_decay"`
		Schedule     *ScheduleConfig `yaml:"schedule"`
	}
	rawData struct {
		Examples *int   `yaml:"examples"`
		NPZ      string `yaml:"npz"`
		MNIST    bool   `yaml:"mnist"`
		Scale    string `yaml:"scale"`
	}
	rawLoss struct {
		Name           *string  `yaml:"name"`
		LabelSmoothing *float64 `yaml:"label_smoothing"`
	}
	rawLayer struct {
		Type       string        `yaml:"type"`
		Name       string        `yaml:"name"`
		Inputs     []string      `yaml:"inputs"`
		Axis       *int          `yaml:"axis"`
		Pad        []int         `yaml:"pad"`
		Rate       *float64      `yaml:"rate"`
		Shape      []int64       `yaml:"shape"`
		Fused      *bool         `yaml:"fused"`
		Units      *int          `yaml:"units"`
		Filters    int           `yaml:"filters"`
		Multiplier *int          `yaml:"multiplier"`
		Kernel     []int         `yaml:"kernel"`
		Strides    []int         `yaml:"strides"`
		Size       []int         `yaml:"size"`
		Padding    string        `yaml:"padding"`
		Activation string        `yaml:"activation"`
		NoBias     bool          `yaml:"no_bias"`
		Momentum   *float64      `yaml:"momentum"`
		Epsilon    *float64      `yaml:"epsilon"`
		Weights    *rawQuantizer `yaml:"weights"`
		Bias       *rawQuantizer `yaml:"bias"`
		Output     *rawQuantizer `yaml:"output"`
	}
	rawQuantizer struct {
		Min         *float64 `yaml:"min"`
		Max         *float64 `yaml:"max"`
		NumBits     *int     `yaml:"num_bits"`
		NarrowRange bool     `yaml:"narrow_range"`
	}
)

// ParseConfig reads a YAML config, fills in defaults and validates it.
// Relative paths are left as written (LoadConfig resolves them).
func ParseConfig(r io.Reader) (*Config, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var raw rawConfig
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config is empty")
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(err)
		}
		return nil, fmt.Errorf("config has more than one YAML document (a second \"---\"); give one")
	}
	c, err := raw.resolve()
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadConfig reads the config file at path. Relative data and init paths
// in it are taken relative to the file's folder. Errors start with path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := ParseConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	paths := []*string{&c.Data.NPZ, &c.Init}
	if c.Validation != nil {
		paths = append(paths, &c.Validation.NPZ)
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return c, nil
}

func (r *rawConfig) resolve() (*Config, error) {
	switch {
	case r.Inputs == nil && r.Input == nil:
		return nil, fmt.Errorf("inputs is missing (the number of features per example; or input: the input shape, e.g. [28, 28, 1])")
	case r.Inputs != nil && r.Input != nil:
		return nil, fmt.Errorf("give either inputs or input, not both")
	}
	if r.Steps != nil && r.Epochs != 0 {
		return nil, fmt.Errorf("give either steps (%d) or epochs (%d), not both", *r.Steps, r.Epochs)
	}
	c := &Config{Input: r.Input, Seed: DefaultSeed, Steps: DefaultSteps, Init: r.Init,
		BatchSize: r.BatchSize, Epochs: r.Epochs, CalibrationBatches: r.Calib, Scheme: r.Scheme, FoldBatchNorm: r.Fold, Output: r.Output,
		Optimizer: OptimizerConfig{Name: "adam", LearningRate: DefaultLearningRate, Beta1: DefaultBeta1, Beta2: DefaultBeta2, Epsilon: DefaultEpsilon},
		Data:      DataConfig{Examples: DefaultExamples}}
	if r.Inputs != nil {
		c.Inputs = *r.Inputs
	}
	numerics, err := tfgraph.ParseNumerics(r.Numerics)
	if err != nil {
		return nil, err
	}
	c.Numerics = numerics
	c.ValidationSplit, c.Validation, c.EarlyStopping, c.BestCheckpoint = r.Split, r.Valid, r.Early, r.Best
	c.resolveFit()
	if r.Seed != nil {
		c.Seed = *r.Seed
	}
	if r.Steps != nil {
		c.Steps = *r.Steps
	}
	if r.Optimizer != nil {
		if c.Optimizer, err = r.Optimizer.config(); err != nil {
			return nil, err
		}
	}
	if l := r.Loss; l != nil {
		if l.Name == nil {
			return nil, fmt.Errorf("loss: name is missing (%s, %s, %s or %s)", LossCategorical, LossSparseCategorical, LossMeanSquaredError, LossBinary)
		}
		c.Loss.Name = strings.ToLower(*l.Name)
		if l.LabelSmoothing != nil {
			c.Loss.LabelSmoothing = *l.LabelSmoothing
		}
	}
	if d := r.Data; d != nil {
		c.Data = DataConfig{NPZ: d.NPZ, MNIST: d.MNIST}
		if d.Scale != "" {
			if c.Data.Scale, err = ParseScale(d.Scale); err != nil {
				return nil, fmt.Errorf("data: %w", err)
			}
			if d.NPZ == "" {
				return nil, fmt.Errorf("data: scale applies to an npz file's x; give npz too")
			}
		}
		switch {
		case d.Examples != nil && d.NPZ != "":
			return nil, fmt.Errorf("data: give either examples or npz, not both")
		case d.MNIST && (d.Examples != nil || d.NPZ != ""):
			return nil, fmt.Errorf("data: mnist takes neither examples nor npz")
		case d.Examples != nil:
			c.Data.Examples = *d.Examples
		case d.NPZ == "" && !d.MNIST:
			c.Data.Examples = DefaultExamples
		}
	}
	for i, rl := range r.Layers {
		l := LayerConfig{Type: rl.Type, Name: rl.Name, Filters: rl.Filters,
			Kernel: rl.Kernel, Strides: rl.Strides, Size: rl.Size, Padding: rl.Padding, Activation: rl.Activation,
			NoBias: rl.NoBias, Inputs: rl.Inputs, Pad: rl.Pad, Shape: rl.Shape, Fused: rl.Fused}
		if rl.Inputs != nil && len(rl.Inputs) == 0 {
			return nil, fmt.Errorf("layer %d (%s): inputs is empty; name the layers it takes, or omit it for the previous one", i+1, rl.Name)
		}
		if a := rl.Axis; a != nil {
			if *a == 0 {
				return nil, fmt.Errorf("layer %d (%s): axis 0 is the batch axis, which cannot be joined (omit axis for -1, the last)", i+1, rl.Name)
			}
			l.Axis = *a
		}
		if r := rl.Rate; r != nil {
			if !(*r >= 0 && *r < 1) {
				return nil, fmt.Errorf("layer %d (%s): rate %g must be in [0, 1)", i+1, rl.Name, *r)
			}
			l.Rate = *r
		}
		if l.Name == "" {
			l.Name = fmt.Sprintf("layer%d", i+1)
		}
		// 0 means "the default" in a LayerConfig, so a 0 written in the
		// file would be silently replaced.
		if m := rl.Multiplier; m != nil {
			if *m <= 0 {
				return nil, fmt.Errorf("layer %d (%s): multiplier %d must be > 0 (omit it for 1)", i+1, l.Name, *m)
			}
			l.Multiplier = *m
		}
		if m := rl.Momentum; m != nil {
			if !(*m > 0 && *m < 1) {
				return nil, fmt.Errorf("layer %d (%s): momentum %g must be in (0, 1) (omit it for %g)", i+1, l.Name, *m, layers.DefaultBNMomentum)
			}
			l.Momentum = *m
		}
		if e := rl.Epsilon; e != nil {
			if !(*e > 0 && *e <= math.MaxFloat32) {
				return nil, fmt.Errorf("layer %d (%s): epsilon %g must be finite and > 0 (omit it for %g)", i+1, l.Name, *e, layers.DefaultBNEpsilon)
			}
			l.Epsilon = *e
		}
		if rl.Units == nil && (l.Type == "" || l.Type == TypeQuantizedDense || l.Type == TypeDense) {
			return nil, fmt.Errorf("layer %d (%s): units is missing", i+1, l.Name)
		}
		if rl.Units != nil {
			l.Units = *rl.Units
		}
		if l.Type != "" && l.Type != TypeQuantizedDense && (rl.Weights != nil || rl.Bias != nil || rl.Output != nil) {
			return nil, fmt.Errorf("layer %d (%s): weights/bias/output ranges belong to quantized_dense layers; a %s layer is quantized by the scheme", i+1, l.Name, l.Type)
		}
		for _, q := range []struct {
			what string
			src  *rawQuantizer
			dst  **QuantizerConfig
		}{{"weights", rl.Weights, &l.Weights}, {"bias", rl.Bias, &l.Bias}, {"output", rl.Output, &l.Output}} {
			if q.src == nil {
				continue
			}
			if q.src.Min == nil || q.src.Max == nil {
				missing := "min"
				if q.src.Min != nil {
					missing = "max"
				}
				return nil, fmt.Errorf("layer %d (%s): %s quantizer: %s is missing", i+1, l.Name, q.what, missing)
			}
			qc := &QuantizerConfig{Min: *q.src.Min, Max: *q.src.Max, NumBits: qat.DefaultBits, NarrowRange: q.src.NarrowRange}
			if q.src.NumBits != nil {
				qc.NumBits = *q.src.NumBits
			}
			*q.dst = qc
		}
		c.Layers = append(c.Layers, l)
	}
	return c, nil
}

// layerName is what a layer name may be: a TensorFlow name-scope component
// without "/", since weights are stored as "<layer>/weight_fp".
var layerName = regexp.MustCompile(`^[A-Za-z0-9.][A-Za-z0-9_.\-]*$`)

func (q *QuantizerConfig) quantizer() qat.Quantizer {
	if q == nil {
		return nil
	}
	return qat.FixedRange{Min: float32(q.Min), Max: float32(q.Max), NumBits: q.NumBits, NarrowRange: q.NarrowRange}
}

// Model returns the model the config describes.
func (c *Config) Model() (Model, error) {
	if err := c.Validate(); err != nil {
		return Model{}, err
	}
	return c.model()
}

// model translates the layers and checks the model's shapes and scheme.
func (c *Config) model() (Model, error) {
	m := Model{Input: c.InputShape(), Scheme: c.Scheme, FoldBatchNorm: c.FoldBatchNorm, Output: c.Output}
	for i, l := range c.Layers {
		layer, err := l.layer()
		if err != nil {
			return Model{}, fmt.Errorf("layer %d (%s): %w", i+1, l.Name, err)
		}
		m.Layers = append(m.Layers, layer)
		if l.Inputs != nil {
			if m.From == nil {
				m.From = map[string][]string{}
			}
			m.From[l.Name] = l.Inputs
		}
	}
	if err := m.Validate(); err != nil {
		return Model{}, err
	}
	return m, nil
}

// Dataset returns the training data (synthetic from Seed, or read from
// Data.NPZ) after checking it fits the model.
func (c *Config) Dataset() (data.Dataset, error) {
	m, err := c.Model()
	if err != nil {
		return data.Dataset{}, err
	}
	if c.Data.MNIST {
		return data.Dataset{}, fmt.Errorf("data: mnist is loaded with data/mnist, not Config.Dataset")
	}
	if c.Data.NPZ == "" {
		if len(m.Input) != 1 {
			return data.Dataset{}, fmt.Errorf("data: synthetic examples need a vector input, the model takes %v", m.Input)
		}
		return data.Synthetic(c.Data.Examples, int(m.Input[0]), m.Classes(), c.Seed)
	}
	return c.readNPZ(c.Data.NPZ, m)
}

// InitialWeights returns every variable's initial value: those in the Init
// file, which must give every variable and no other name, or else values
// drawn from Seed.
func (c *Config) InitialWeights() (data.Weights, error) {
	m, err := c.Model()
	if err != nil {
		return nil, err
	}
	var given data.Weights
	if c.Init != "" {
		arrays, err := data.ReadNPZ(c.Init)
		if err != nil {
			return nil, fmt.Errorf("initial weights: %w", err)
		}
		given = data.Weights(arrays)
	}
	w, err := m.InitialWeights(given, c.Seed)
	if err == nil && c.Init != "" {
		err = given.Covers(w)
	}
	if err != nil && c.Init != "" {
		return nil, fmt.Errorf("%s: %w", c.Init, err)
	}
	return w, err
}

// ReadDataset reads a data set from an .npz file with arrays x [N, features]
// and y [N, classes] (one-hot) or [N] (class ids); it is
// ReadDatasetScaled without a scale. Shapes are checked against a model
// with Dataset.Validate or ValidateLabels.
func ReadDataset(path string) (data.Dataset, error) { return ReadDatasetScaled(path, 0) }

// ExampleConfig returns the config of the article's example n (1, 2 or 3)
// as `qat train --example n` runs it: 100 synthetic examples, seed 1,
// Adam with learning rate 0.01, 100 steps, and eager numerics (the article
// trains with an eager GradientTape loop).
func ExampleConfig(n int) (*Config, error) {
	m, err := Example(n)
	if err != nil {
		return nil, err
	}
	c := &Config{Inputs: int(m.Input[0]), Seed: DefaultSeed, Steps: DefaultSteps,
		Optimizer: OptimizerConfig{Name: "adam", LearningRate: 0.01, Beta1: DefaultBeta1, Beta2: DefaultBeta2, Epsilon: DefaultEpsilon},
		Data:      DataConfig{Examples: DefaultExamples}, Numerics: tfgraph.EagerNumerics}
	for _, layer := range m.Layers {
		l := layer.(layers.ArticleDense)
		lc := LayerConfig{Name: l.Name, Units: l.Units}
		for _, q := range []struct {
			src qat.Quantizer
			dst **QuantizerConfig
		}{{l.Weights, &lc.Weights}, {l.Bias, &lc.Bias}, {l.Output, &lc.Output}} {
			if q.src == nil {
				continue
			}
			r, ok := q.src.(qat.FixedRange)
			if !ok {
				return nil, fmt.Errorf("example %d: layer %s has a %T quantizer, which configs cannot express", n, l.Name, q.src)
			}
			*q.dst = &QuantizerConfig{Min: decimal32(r.Min), Max: decimal32(r.Max), NumBits: r.NumBits, NarrowRange: r.NarrowRange}
		}
		c.Layers = append(c.Layers, lc)
	}
	return c, nil
}
