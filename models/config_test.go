package models

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
)

const fullConfig = `# qat train config
inputs: 10            # features per example
seed: 7
steps: 50
numerics: eager
optimizer: {name: adam, learning_rate: 0.01, beta_1: 0.8, beta_2: 0.99, epsilon: 1.0e-6, fused: true}
data: {npz: data.npz}
init: w.npz
layers:
  - name: hidden
    units: 32
    weights: {min: -0.1, max: 0.1, num_bits: 4, narrow_range: true}
    bias:    {min: -0.1, max: 0.1}
    output:  {min: -1, max: 1}
  - units: 10
    weights: {min: -0.5, max: 0.25}
`

func TestParseConfig(t *testing.T) {
	keras := OptimizerConfig{Name: "adam", LearningRate: 0.001, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7}
	for _, tc := range []struct {
		name string
		yaml string
		want *Config
	}{
		{"full", fullConfig, &Config{
			Inputs: 10, Seed: 7, Steps: 50,
			Optimizer: OptimizerConfig{Name: "adam", LearningRate: 0.01, Beta1: 0.8, Beta2: 0.99, Epsilon: 1e-6, Fused: true},
			Data:      DataConfig{NPZ: "data.npz"}, Init: "w.npz", Numerics: tfgraph.EagerNumerics,
			Layers: []LayerConfig{
				{Name: "hidden", Units: 32,
					Weights: &QuantizerConfig{Min: -0.1, Max: 0.1, NumBits: 4, NarrowRange: true},
					Bias:    &QuantizerConfig{Min: -0.1, Max: 0.1, NumBits: 8},
					Output:  &QuantizerConfig{Min: -1, Max: 1, NumBits: 8}},
				{Name: "layer2", Units: 10, Weights: &QuantizerConfig{Min: -0.5, Max: 0.25, NumBits: 8}},
			}}},
		{"defaults", "inputs: 3\nlayers: [{units: 2}]\n", &Config{
			Inputs: 3, Seed: 1, Steps: 100, Optimizer: keras, Data: DataConfig{Examples: 100},
			Layers: []LayerConfig{{Name: "layer1", Units: 2}}, Numerics: tfgraph.GraphNumerics}},
		{"partial optimizer", "inputs: 3\noptimizer: {learning_rate: 0.5}\ndata: {}\nlayers: [{units: 2}]\n", &Config{
			Inputs: 3, Seed: 1, Steps: 100, Data: DataConfig{Examples: 100},
			Optimizer: OptimizerConfig{Name: "adam", LearningRate: 0.5, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7},
			Layers:    []LayerConfig{{Name: "layer1", Units: 2}}, Numerics: tfgraph.GraphNumerics}},
		{"sgd defaults", "inputs: 3\noptimizer: {name: sgd}\nlayers: [{units: 2}]\n", &Config{
			Inputs: 3, Seed: 1, Steps: 100, Data: DataConfig{Examples: 100},
			Optimizer: OptimizerConfig{Name: "sgd", LearningRate: 0.01},
			Layers:    []LayerConfig{{Name: "layer1", Units: 2}}, Numerics: tfgraph.GraphNumerics}},
		{"cosine warm-up", "inputs: 3\noptimizer: {learning_rate: 0.0, schedule: {name: Cosine_Decay, decay_steps: 100, warmup_steps: 10, warmup_target: 0.01}}\nlayers: [{units: 2}]\n", &Config{
			Inputs: 3, Seed: 1, Steps: 100, Data: DataConfig{Examples: 100},
			Optimizer: OptimizerConfig{Name: "adam", Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7,
				Schedule: &ScheduleConfig{Name: "cosine_decay", DecaySteps: 100, WarmupSteps: 10, WarmupTarget: 0.01}},
			Layers: []LayerConfig{{Name: "layer1", Units: 2}}, Numerics: tfgraph.GraphNumerics}},
		{"adamw defaults", "inputs: 3\noptimizer: {name: adamw}\nlayers: [{units: 2}]\n", &Config{
			Inputs: 3, Seed: 1, Steps: 100, Data: DataConfig{Examples: 100},
			Optimizer: OptimizerConfig{Name: "adamw", LearningRate: 0.001, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7, WeightDecay: 0.004},
			Layers:    []LayerConfig{{Name: "layer1", Units: 2}}, Numerics: tfgraph.GraphNumerics}},
		{"sgd nesterov", "inputs: 3\noptimizer: {name: SGD, learning_rate: 0.1, momentum: 0.9, nesterov: true}\nlayers: [{units: 2}]\n", &Config{
			Inputs: 3, Seed: 1, Steps: 100, Data: DataConfig{Examples: 100},
			Optimizer: OptimizerConfig{Name: "sgd", LearningRate: 0.1, Momentum: 0.9, Nesterov: true},
			Layers:    []LayerConfig{{Name: "layer1", Units: 2}}, Numerics: tfgraph.GraphNumerics}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig(strings.NewReader(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	const layers = "layers: [{units: 2}]\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"empty", "", []string{"config is empty"}},
		{"malformed", "inputs: 10\nlayers: [{units: 2}\n", []string{"malformed YAML", "line"}},
		{"tab indent", "inputs: 10\n\tlayers: []\n", []string{"malformed YAML"}},
		{"not a mapping", "- 1\n- 2\n", []string{"the config (a mapping of keys)"}},
		{"two documents", "inputs: 1\n" + layers + "---\ninputs: 2\n", []string{"more than one YAML document"}},
		{"unknown top key", "inputs: 10\nlearning_rate: 3\n" + layers, []string{`line 2: unknown key "learning_rate" in the config`, "known keys: inputs"}},
		{"unknown layer key", "inputs: 10\nlayers:\n  - units: 2\n    dropout: 0.5\n", []string{`line 4: unknown key "dropout" in a layer`}},
		{"unknown layer type", "inputs: 10\nlayers: [{type: lstm, units: 2}]\n", []string{`layer 1 (layer1): unknown layer type "lstm"`, "conv2d"}},
		{"activation on article layer", "inputs: 10\nlayers: [{units: 2, activation: relu}]\n", []string{"activation does not apply to a quantized_dense layer", "give a type"}},
		{"inputs and input", "inputs: 10\ninput: [10]\n" + layers, []string{"either inputs or input"}},
		{"num_bits in scheme", "input: [4]\nscheme: {default: {weight_bits: 17}}\nlayers: [{type: dense, units: 2}]\n", []string{"scheme default: weight_bits: num_bits 17 is outside 2..16"}},
		{"per-channel on pool", "input: [4, 4, 1]\nscheme: {default: {weight_bits: 8}, layers: {p: {weight_bits: 8, per_channel: true}}}\nlayers: [{type: max_pool, name: p}, {type: flatten, name: f}, {type: dense, name: d, units: 2}]\n", []string{"scheme layer p: per_channel set, but the layer has no weights with channels"}},
		{"scheme names missing layer", "input: [4]\nscheme: {default: {weight_bits: 8}, layers: {nope: {weight_bits: 4}}}\nlayers: [{type: dense, units: 2}]\n", []string{`scheme names layer "nope"`}},
		{"unknown tfmot key", "input: [4]\nscheme: {default: {weight_bits: 8}, tfmot: {depthwise: true}}\nlayers: [{type: dense, units: 2}]\n", []string{`unknown key "depthwise" in tfmot`, "depthwise_ranges_by_multiplier"}},
		{"conv without kernel", "input: [4, 4, 1]\nlayers: [{type: conv2d, filters: 2}]\n", []string{"kernel is missing"}},
		{"dense on image", "input: [4, 4, 1]\nlayers: [{type: dense, units: 2}]\n", []string{"dense input must be [batch, features]", "flatten"}},
		{"unknown quantizer key", "inputs: 10\nlayers: [{units: 2, weights: {min: 0, max: 1, bits: 8}}]\n", []string{`unknown key "bits" in a quantizer`, "num_bits"}},
		{"unknown optimizer key", "inputs: 10\noptimizer: {lr: 0.1}\n" + layers, []string{`unknown key "lr" in optimizer`}},
		{"duplicate key", "inputs: 10\ninputs: 11\n" + layers, []string{"already defined"}},
		{"wrong type", "inputs: ten\n" + layers, []string{"line 1", "`ten` into int"}},
		{"missing inputs", layers, []string{"inputs is missing"}},
		{"zero inputs", "inputs: 0\n" + layers, []string{"inputs 0 must be > 0"}},
		{"missing layers", "inputs: 10\n", []string{"no layers"}},
		{"empty layers", "inputs: 10\nlayers: []\n", []string{"no layers"}},
		{"steps", "inputs: 10\nsteps: 0\n" + layers, []string{"steps 0 must be > 0"}},
		{"unknown optimizer", "inputs: 10\noptimizer: {name: rmsprop}\n" + layers, []string{`optimizer: unknown name "rmsprop"`, "adam, adamw, sgd"}},
		{"schedule name", "inputs: 10\noptimizer: {schedule: {name: step_decay}}\n" + layers, []string{`schedule: unknown name "step_decay"`, "cosine_decay"}},
		{"schedule foreign key", "inputs: 10\noptimizer: {schedule: {name: cosine_decay, decay_steps: 10, decay_rate: 0.5}}\n" + layers, []string{"decay_rate is not a setting of cosine_decay"}},
		{"schedule unknown key", "inputs: 10\noptimizer: {schedule: {name: cosine_decay, steps: 10}}\n" + layers, []string{`unknown key "steps" in the optimizer's schedule`}},
		{"piecewise with learning rate", "inputs: 10\noptimizer: {learning_rate: 0.1, schedule: {name: piecewise_constant_decay, boundaries: [5], values: [0.1, 0.01]}}\n" + layers, []string{"takes its rates from its values"}},
		{"weight decay", "inputs: 10\noptimizer: {name: adamw, weight_decay: -0.1}\n" + layers, []string{"weight_decay -0.1 must be finite and >= 0"}},
		{"adam with momentum", "inputs: 10\noptimizer: {momentum: 0.9}\n" + layers, []string{"momentum is not a setting of adam", "beta_1"}},
		{"sgd with beta_1", "inputs: 10\noptimizer: {name: sgd, beta_1: 0.9}\n" + layers, []string{"beta_1 is not a setting of sgd", "momentum, nesterov"}},
		{"sgd momentum", "inputs: 10\noptimizer: {name: sgd, momentum: 1.5}\n" + layers, []string{"momentum 1.5 must be in [0, 1]"}},
		{"sgd learning rate", "inputs: 10\noptimizer: {name: sgd, learning_rate: 0}\n" + layers, []string{"learning_rate 0 must be"}},
		{"learning rate", "inputs: 10\noptimizer: {learning_rate: -1}\n" + layers, []string{"learning_rate -1 must be"}},
		{"learning rate nan", "inputs: 10\noptimizer: {learning_rate: .nan}\n" + layers, []string{"learning_rate NaN"}},
		{"beta_1", "inputs: 10\noptimizer: {beta_1: 1}\n" + layers, []string{"beta_1 1 must be in [0, 1)"}},
		{"epsilon", "inputs: 10\noptimizer: {epsilon: 0}\n" + layers, []string{"epsilon 0 must be"}},
		{"numerics", "inputs: 10\nnumerics: fast\n" + layers, []string{`numerics "fast"`, `"graph"`, `"eager"`}},
		{"data both", "inputs: 10\ndata: {examples: 5, npz: d.npz}\n" + layers, []string{"either examples or npz"}},
		{"data examples", "inputs: 10\ndata: {examples: 0}\n" + layers, []string{"examples 0 must be > 0"}},
		{"units missing", "inputs: 10\nlayers: [{units: 2}, {name: out}]\n", []string{"layer 2 (out): units is missing"}},
		{"units zero", "inputs: 10\nlayers: [{units: 2}, {units: 0}]\n", []string{"layer 2 (layer2): units 0 must be > 0"}},
		{"units negative", "inputs: 10\nlayers: [{name: a, units: -3}]\n", []string{"layer 1 (a): units -3 must be > 0"}},
		{"duplicate names", "inputs: 10\nlayers: [{name: a, units: 2}, {name: a, units: 2}]\n", []string{"layer 2 (a): layer 1 has the same name"}},
		{"bad name", "inputs: 10\nlayers: [{name: a/b, units: 2}]\n", []string{`layer 1: name "a/b"`}},
		{"num_bits 17", "inputs: 10\nlayers: [{units: 2}, {name: out, units: 2, weights: {min: -1, max: 1, num_bits: 17}}]\n",
			[]string{"layer 2 (out): weights quantizer: num_bits 17 is outside 2..16"}},
		{"num_bits 1", "inputs: 10\nlayers: [{units: 2, output: {min: -1, max: 1, num_bits: 1}}]\n", []string{"layer 1 (layer1): output quantizer: num_bits 1 is outside 2..16"}},
		{"num_bits 0", "inputs: 10\nlayers: [{units: 2, bias: {min: -1, max: 1, num_bits: 0}}]\n", []string{"bias quantizer: num_bits 0 is outside 2..16"}},
		{"min > max", "inputs: 10\nlayers: [{units: 2, weights: {min: 1, max: -1}}]\n", []string{"layer 1 (layer1): weights quantizer: min 1 must be < max -1"}},
		{"min = max", "inputs: 10\nlayers: [{units: 2, weights: {min: 1, max: 1}}]\n", []string{"min 1 must be < max 1"}},
		{"equal in float32", "inputs: 10\nlayers: [{units: 2, weights: {min: 0.1, max: 0.1000000001}}]\n", []string{"weights quantizer: range", "min must be < max"}},
		{"nan", "inputs: 10\nlayers: [{units: 2, weights: {min: .nan, max: 1}}]\n", []string{"weights quantizer: min is NaN; the range must be finite"}},
		{"inf", "inputs: 10\nlayers: [{units: 2, output: {min: -1, max: .inf}}]\n", []string{"output quantizer: max is +Inf; the range must be finite"}},
		{"-inf", "inputs: 10\nlayers: [{units: 2, output: {min: -.Inf, max: 1}}]\n", []string{"output quantizer: min is -Inf"}},
		{"float32 overflow", "inputs: 10\nlayers: [{units: 2, output: {min: -1, max: 1e39}}]\n", []string{"max 1e+39 does not fit in float32"}},
		{"min missing", "inputs: 10\nlayers: [{units: 2, weights: {max: 1}}]\n", []string{"layer 1 (layer1): weights quantizer: min is missing"}},
		{"max missing", "inputs: 10\nlayers: [{units: 2, weights: {min: 1}}]\n", []string{"weights quantizer: max is missing"}},
		{"layers not a list", "inputs: 10\nlayers: 3\n", []string{"into a list of layers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatalf("no error; got %+v", c)
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "models.raw") {
				t.Errorf("error %q names a Go type", err)
			}
		})
	}
}

func TestLoadConfigPaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.yaml")
	abs := filepath.Join(t.TempDir(), "w.npz")
	yaml := "inputs: 2\ndata: {npz: sub/d.npz}\ninit: " + abs + "\nlayers: [{units: 3}]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "sub", "d.npz"); c.Data.NPZ != want {
		t.Errorf("data npz %q, want %q", c.Data.NPZ, want)
	}
	if c.Init != abs {
		t.Errorf("init %q, want %q", c.Init, abs)
	}
	if err := os.WriteFile(path, []byte("inputs: 2\nlayers: [{units: 3, bias: {min: 0, max: 1, num_bits: 17}}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err == nil || !strings.HasPrefix(err.Error(), path+": layer 1 (layer1): bias quantizer: num_bits 17") {
		t.Errorf("error %v should start with the path and name the layer", err)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: error %v", err)
	}
}

func TestExampleConfig(t *testing.T) {
	for n := 1; n <= 3; n++ {
		c, err := ExampleConfig(n)
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.Model()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Example(n)
		if !reflect.DeepEqual(m, want) {
			t.Errorf("example %d: model %+v, want %+v", n, m, want)
		}
		var buf bytes.Buffer
		if err := c.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		text := buf.String()
		back, err := ParseConfig(&buf)
		if err != nil {
			t.Fatalf("example %d: parse own output: %v\n%s", n, err, text)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("example %d: round trip %+v, want %+v", n, back, c)
		}
		if n == 3 {
			t.Logf("example 3 config:\n%s", text)
		}
	}
	if _, err := ExampleConfig(4); err == nil {
		t.Error("example 4: no error")
	}
}

func TestConfigModelAndData(t *testing.T) {
	c, err := ParseConfig(strings.NewReader(fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Model()
	if err != nil {
		t.Fatal(err)
	}
	want := Model{Input: []int64{10}, Layers: []layers.Layer{
		layers.ArticleDense{Name: "hidden", Units: 32, Weights: qat.FixedRange{Min: -0.1, Max: 0.1, NumBits: 4, NarrowRange: true},
			Bias: qat.Symmetric(0.1), Output: qat.Symmetric(1)},
		layers.ArticleDense{Name: "layer2", Units: 10, Weights: qat.FixedRange{Min: -0.5, Max: 0.25, NumBits: 8}},
	}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("model %+v, want %+v", m, want)
	}

	dir := t.TempDir()
	c.Data.NPZ = filepath.Join(dir, "data.npz")
	c.Init = ""
	good := map[string]data.Array{
		"x": {Shape: []int64{3, 10}, Data: make([]float32, 30)},
		"y": {Shape: []int64{3, 10}, Data: make([]float32, 30)},
	}
	for i := range 3 { // one-hot
		good["y"].Data[i*10+i] = 1
	}
	if err := data.WriteNPZ(c.Data.NPZ, good); err != nil {
		t.Fatal(err)
	}
	if d, err := c.Dataset(); err != nil || d.X.Shape[0] != 3 {
		t.Fatalf("dataset: %v, %v", d.X.Shape, err)
	}
	for _, tc := range []struct {
		name   string
		arrays map[string]data.Array
		want   string
	}{
		{"x width", map[string]data.Array{"x": {Shape: []int64{3, 4}, Data: make([]float32, 12)}, "y": good["y"]}, "x has shape [3 4], the model needs [N, 10]"},
		{"y width", map[string]data.Array{"x": good["x"], "y": {Shape: []int64{3, 2}, Data: make([]float32, 6)}}, "y has shape [3 2], the model needs [N, 10]"},
		{"no y", map[string]data.Array{"x": good["x"], "labels": good["y"]}, `want arrays x [N, features] and y`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := data.WriteNPZ(c.Data.NPZ, tc.arrays); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Dataset(); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "data.npz") {
				t.Errorf("error %v, want it to name the file and contain %q", err, tc.want)
			}
		})
	}

	c.Data = DataConfig{Examples: 5}
	d, err := c.Dataset()
	if err != nil || !reflect.DeepEqual(d.X.Shape, []int64{5, 10}) || !reflect.DeepEqual(d.Y.Shape, []int64{5, 10}) {
		t.Fatalf("synthetic: %v %v, %v", d.X.Shape, d.Y.Shape, err)
	}
	w, err := c.InitialWeights()
	if err != nil || len(w) != 4 {
		t.Fatalf("initial weights: %d arrays, %v", len(w), err)
	}
	c.Init = filepath.Join(dir, "init.npz")
	if err := data.WriteNPZ(c.Init, map[string]data.Array{"hidden/bias_fp": {Shape: []int64{3}, Data: make([]float32, 3)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InitialWeights(); err == nil || !strings.Contains(err.Error(), "hidden/bias_fp has shape [3], the model needs [32]") {
		t.Errorf("init with wrong shape: %v", err)
	}
}

// FuzzParseConfig checks that no input makes ParseConfig panic, and that
// every config it accepts builds a valid model.
func FuzzParseConfig(f *testing.F) {
	f.Add(fullConfig)
	f.Add("inputs: 3\nlayers: [{units: 2, weights: {min: .nan, max: 1}}]\n")
	f.Add("inputs: 3\nlayers: [{units: 2}, {units: 1e9}]\n")
	f.Add("{inputs: [1], layers: {a: b}}")
	f.Add("&a [*a]")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfig(strings.NewReader(s))
		if err != nil {
			return
		}
		if _, err := c.Model(); err != nil {
			t.Fatalf("accepted config does not build: %v", err)
		}
	})
}

// TestConfigBadInput checks settings that were accepted silently or
// reported unclearly: each error names what is wrong, and only that.
func TestConfigBadInput(t *testing.T) {
	const dense = "layers: [{type: dense, units: 2}]\n"
	conv := func(layer string) string {
		return "input: [8, 8, 1]\ndata: {npz: d.npz}\nlayers: [" + layer + ", {type: flatten, name: f}, {type: dense, name: d, units: 2}]\n"
	}
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error
		absent     []string // words the error must not contain
	}{
		{"steps and epochs", "inputs: 4\nsteps: 10\nepochs: 2\nbatch_size: 5\n" + dense, []string{"give either steps (10) or epochs (2), not both"}, nil},
		{"batch_size negative", "inputs: 4\nbatch_size: -5\n" + dense, []string{"batch_size -5 must be > 0 (or omit it: the whole data set each step)"}, []string{"epochs", "calibration"}},
		{"epochs negative", "inputs: 4\nbatch_size: 5\nepochs: -1\n" + dense, []string{"epochs -1 must be > 0"}, []string{"batch_size", "calibration"}},
		{"calibration negative", "inputs: 4\nbatch_size: 5\ncalibration_batches: -2\n" + dense, []string{"calibration_batches -2 must be > 0"}, []string{"batch_size", "epochs"}},
		{"epochs without batch_size", "inputs: 4\nepochs: 3\n" + dense, []string{"epochs 3 needs batch_size"}, []string{"calibration"}},
		{"calibration without batch_size", "inputs: 4\ncalibration_batches: 3\n" + dense, []string{"calibration_batches 3 needs batch_size"}, []string{"epochs"}},
		{"conv strides 0", conv("{type: conv2d, name: c, filters: 2, kernel: [3, 3], strides: [0, 0]}"), []string{"layer 1 (c): strides [0 0]: every value must be > 0 (omit strides for the default)"}, nil},
		{"conv strides negative", conv("{type: conv2d, name: c, filters: 2, kernel: [3, 3], strides: [1, -2]}"), []string{"layer 1 (c): strides [1 -2]: every value must be > 0"}, nil},
		{"conv kernel 0", conv("{type: conv2d, name: c, filters: 2, kernel: [3, 0]}"), []string{"layer 1 (c): kernel [3 0]: every value must be > 0"}, []string{"default"}},
		{"conv kernel 3 values", conv("{type: conv2d, name: c, filters: 2, kernel: [3, 3, 3]}"), []string{"kernel [3 3 3]: give [n] or [height, width]"}, nil},
		{"conv filters 0", conv("{type: conv2d, name: c, filters: 0, kernel: [3, 3]}"), []string{"layer 1 (c): filters 0 must be > 0"}, nil},
		{"conv filters negative", conv("{type: conv2d, name: c, filters: -4, kernel: [3, 3]}"), []string{"layer 1 (c): filters -4 must be > 0"}, nil},
		{"conv padding", conv("{type: conv2d, name: c, filters: 2, kernel: [3, 3], padding: full}"), []string{`layer c: padding "full" (want VALID or SAME)`}, nil},
		{"pool size 0", conv("{type: max_pool, name: p, size: [0, 0]}"), []string{"layer 1 (p): size [0 0]: every value must be > 0"}, nil},
		{"pool size negative", conv("{type: avg_pool, name: p, size: [-2]}"), []string{"layer 1 (p): size [-2]: every value must be > 0"}, nil},
		{"pool strides 0", conv("{type: max_pool, name: p, strides: [0]}"), []string{"layer 1 (p): strides [0]: every value must be > 0"}, nil},
		{"pool window too big", conv("{type: max_pool, name: p, size: [9, 9]}"), []string{"layer p: input [8 8] is smaller than the [9 9] window"}, nil},
		{"depthwise multiplier 0", conv("{type: depthwise_conv2d, name: dw, kernel: [3, 3], multiplier: 0}"), []string{"layer 1 (dw): multiplier 0 must be > 0 (omit it for 1)"}, nil},
		{"depthwise multiplier negative", conv("{type: depthwise_conv2d, name: dw, kernel: [3, 3], multiplier: -1}"), []string{"multiplier -1 must be > 0"}, nil},
		{"dense units negative", "inputs: 4\nlayers: [{type: dense, name: d, units: -1}]\n", []string{"layer 1 (d): units -1 must be > 0"}, nil},
		{"units on conv", conv("{type: conv2d, name: c, filters: 2, kernel: [3, 3], units: 5}"), []string{"layer 1 (c): units does not apply to a conv2d layer (it takes the keys filters, kernel, strides, padding, activation, no_bias)"}, nil},
		{"filters on dense", "inputs: 4\nlayers: [{type: dense, name: d, units: 2, filters: 3}]\n", []string{"layer 1 (d): filters does not apply to a dense layer (it takes the keys units, activation)"}, nil},
		{"kernel and strides on dense", "inputs: 4\nlayers: [{type: dense, name: d, units: 2, kernel: [3, 3], strides: [2, 2]}]\n", []string{"kernel, strides do not apply to a dense layer"}, nil},
		{"kernel on pool", conv("{type: max_pool, name: p, kernel: [2, 2]}"), []string{"kernel does not apply to a max_pool layer (it takes the keys size, strides, padding)"}, nil},
		{"activation on flatten", "input: [2, 2]\nlayers: [{type: flatten, name: f, activation: relu}, {type: dense, units: 2}]\n", []string{"layer 1 (f): activation does not apply to a flatten layer (it takes no keys besides type and name)"}, nil},
		{"momentum on conv", conv("{type: conv2d, name: c, filters: 2, kernel: [3, 3], momentum: 0.9}"), []string{"momentum does not apply to a conv2d layer"}, nil},
		{"no_bias on dense", "inputs: 4\nlayers: [{type: dense, name: d, units: 2, no_bias: true}]\n", []string{"no_bias does not apply to a dense layer"}, nil},
		{"bn momentum 2", conv("{type: batch_norm, name: bn, momentum: 2}"), []string{"layer 1 (bn): momentum 2 must be in (0, 1) (omit it for 0.99)"}, []string{"epsilon"}},
		{"bn momentum 0", conv("{type: batch_norm, name: bn, momentum: 0}"), []string{"momentum 0 must be in (0, 1)"}, []string{"epsilon"}},
		{"bn momentum nan", conv("{type: batch_norm, name: bn, momentum: .nan}"), []string{"momentum NaN must be in (0, 1)"}, nil},
		{"bn epsilon 0", conv("{type: batch_norm, name: bn, epsilon: 0}"), []string{"layer 1 (bn): epsilon 0 must be finite and > 0 (omit it for 0.001)"}, []string{"momentum"}},
		{"bn epsilon negative", conv("{type: batch_norm, name: bn, epsilon: -1}"), []string{"epsilon -1 must be finite and > 0"}, []string{"momentum"}},
		{"bn epsilon inf", conv("{type: batch_norm, name: bn, epsilon: .inf}"), []string{"epsilon +Inf must be finite and > 0"}, []string{"momentum"}},
		{"input shape overflow", "input: [1e10, 1e10, 1e10]\ndata: {npz: d.npz}\nlayers: [{type: flatten}, {type: dense, units: 2}]\n", []string{"model: input shape [10000000000 10000000000 10000000000] has more than 2^63 values"}, nil},
		{"input dimension 0", "input: [4, 0, 1]\ndata: {npz: d.npz}\nlayers: [{type: flatten}, {type: dense, units: 2}]\n", []string{"input shape [4 0 1]: every dimension must be > 0"}, nil},
		// Far beyond any machine: refused from the sizes alone, before
		// anything is allocated (TestHugeModelsFailFast times these).
		{"units 1e9", "inputs: 1000000\nlayers: [{type: dense, name: big, units: 1e9}]\n", []string{"model: too large to train: layer big needs", "(1000001000000000 parameters)", "16 bytes per parameter", "more than"}, nil},
		{"filters 1e9", conv("{type: conv2d, name: c, filters: 1e12, kernel: [3, 3]}"), []string{"model: too large to train: layer ", "more than"}, nil},
		{"multiplier huge", conv("{type: depthwise_conv2d, name: dw, kernel: [3, 3], multiplier: 4e18}"), []string{"model: layer dw: output shape [6 6 4000000000000000000] has more than 2^63 values"}, nil},
		{"synthetic inputs 1e12", "inputs: 1000000000000\n" + dense, []string{"model: too large to train: layer layer1 needs", "TiB of data), more than"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatalf("no error; got %+v", c)
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(err.Error(), a) {
					t.Errorf("error %q names %q, which is fine", err, a)
				}
			}
		})
	}
}

// TestConfigStepsFor checks the settings that need the data's size.
func TestConfigStepsFor(t *testing.T) {
	for _, tc := range []struct {
		name             string
		steps, batch     int
		epochs, calib, n int
		want             int
		err              string
	}{
		{"steps", 7, 0, 0, 0, 100, 7, ""},
		{"epochs", 100, 10, 3, 0, 105, 30, ""},
		{"calibration fits", 5, 10, 0, 10, 100, 5, ""},
		{"calibration too many", 5, 10, 0, 11, 105, 0, "calibration_batches 11 is more than the data's 10 batches of 10 (105 examples)"},
		{"batch larger than data", 5, 200, 0, 0, 100, 0, "batch_size 200 is more than the data's 100 examples"},
		{"no data", 5, 0, 0, 0, 0, 0, "data: no examples"},
		{"epochs overflow", 5, 1, 1 << 40, 0, 1 << 20, 0, "epochs 1099511627776 of 1048576 steps each: more than 2147483647 steps"},
		{"epochs without batch", 5, 0, 2, 0, 100, 0, "epochs and calibration_batches need batch_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Steps: tc.steps, BatchSize: tc.batch, Epochs: tc.epochs, CalibrationBatches: tc.calib}
			got, err := c.StepsFor(tc.n)
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Errorf("StepsFor(%d) = %d, %v; want %d", tc.n, got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("StepsFor(%d): error %v, want one containing %q", tc.n, err, tc.err)
			}
		})
	}
}

// TestConfigEpochsRoundTrip checks that a config with epochs encodes
// without steps, so the run's config.yaml reads back.
// A written config reads back as the same optimizer, each with its own keys
// only.
func TestConfigOptimizerRoundTrip(t *testing.T) {
	for _, c := range []struct{ optimizer, written, absent string }{
		{"{name: sgd, learning_rate: 0.05, momentum: 0.9, nesterov: true}", "nesterov: true", "beta_1"},
		{"{name: adam, beta_1: 0, fused: true}", "beta_1: 0", "momentum"},
		{"{name: adamw, weight_decay: 0}", "weight_decay: 0", "momentum"},
		{"{name: sgd, schedule: {name: piecewise_constant_decay, boundaries: [5, 9], values: [0.1, 0.05, 0.01]}}", "boundaries:", "learning_rate"},
		{"{learning_rate: 0.01, schedule: {name: exponential_decay, decay_steps: 100, decay_rate: 0.96, staircase: true}}", "staircase: true", "alpha"},
	} {
		t.Run(c.optimizer, func(t *testing.T) {
			cfg, err := ParseConfig(strings.NewReader("inputs: 4\noptimizer: " + c.optimizer + "\nlayers: [{units: 2}]\n"))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := cfg.Encode(&buf); err != nil {
				t.Fatal(err)
			}
			text := buf.String()
			if !strings.Contains(text, c.written) || strings.Contains(text, c.absent) {
				t.Errorf("encoded config should hold %q and not %q:\n%s", c.written, c.absent, text)
			}
			back, err := ParseConfig(&buf)
			if err != nil || !reflect.DeepEqual(back, cfg) {
				t.Errorf("round trip: %+v, %v; want %+v", back, err, cfg)
			}
		})
	}
}

func TestConfigEpochsRoundTrip(t *testing.T) {
	c, err := ParseConfig(strings.NewReader("inputs: 4\nbatch_size: 5\nepochs: 2\nlayers: [{units: 2}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "steps:") {
		t.Errorf("encoded config has steps beside epochs:\n%s", buf.String())
	}
	back, err := ParseConfig(&buf)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, c)
	}
}

// TestConfigTFMOTCompat checks that a config's scheme takes tfmot's
// settings, as qat.TFMOT8Bit sets them.
func TestConfigTFMOTCompat(t *testing.T) {
	c, err := ParseConfig(strings.NewReader("input: [4]\nscheme: {default: {weight_bits: 8, activation_bits: 8}, input_bits: 8, " +
		"tfmot: {depthwise_ranges_by_multiplier: true, float_kernel_before_relu: true, batch_norm_output_after_dense: true}}\n" +
		"layers: [{type: dense, units: 2}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Scheme, qat.TFMOT8Bit()) {
		t.Errorf("scheme %+v, want qat.TFMOT8Bit() %+v", c.Scheme, qat.TFMOT8Bit())
	}
}
