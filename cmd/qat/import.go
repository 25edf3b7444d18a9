package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/atomicfile"
	"github.com/qat-go/qat/models"
	quant "github.com/qat-go/qat/qat"
)

// kerasExport is the script that loads a Keras model and describes it.
//
//go:embed keras_export.py
var kerasExport []byte

type importFlags struct {
	out, python, data string
	mnist, qat8       bool
}

func newImport() *cobra.Command {
	f := &importFlags{}
	c := &cobra.Command{
		Use:   "import MODEL",
		Short: "Import a trained Keras model as a qat config and weights, to fine-tune with QAT",
		Long: `Import a Keras model (a .keras file, an .h5 file, or a SavedModel folder
written by tf_keras's model.save) into DIR/config.yaml and DIR/weights.npz:
the model's layers as a qat config (init: weights.npz) and its trained
weights under qat's variable names. Then

  qat train --config DIR/config.yaml --data data.npz --out RUN

fine-tunes it. The config is float unless --qat8 adds tfmot's default
8-bit scheme (or add a scheme: block yourself).

The model is read once with Python Keras (the project's venv, or
--python / $QAT_PYTHON): Keras 3 first, then tf_keras (Keras 2) for the
files Keras 3 cannot read; SavedModel folders with tf_keras. Sequential and
Functional models of these Keras layers are supported: ` + supportedKeras() + `.
A final softmax (an output Dense's activation, an Activation or a Softmax
layer) is left out, since qat trains on logits with softmax cross-entropy.
Any other layer, or a setting qat's layers lack (dilation, groups,
channels_first, a batch norm without center or scale, ...), is an error
naming the layer and the setting.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return importKerasModel(c, f, args[0]) },
	}
	fl := c.Flags()
	fl.StringVar(&f.out, "out", "", "the `folder` to write config.yaml and weights.npz into (required)")
	fl.BoolVar(&f.qat8, "qat8", false, "add tfmot's default 8-bit scheme to the config (default: a float config)")
	fl.StringVar(&f.data, "data", "", "put this training-data .npz `file` (x [N, input...], one-hot y [N, classes]) in the config")
	fl.BoolVar(&f.mnist, "mnist", false, "put the embedded MNIST digits in the config as its training data")
	fl.StringVar(&f.python, "python", "", "Python with TensorFlow `path` (default $QAT_PYTHON, then .venv/bin/python)")
	return c
}

// kerasModel is keras_export.py's description of a model.
type kerasModel struct {
	Keras      string       `json:"keras"`
	Class      string       `json:"class"`
	Name       string       `json:"name"`
	InputShape []*int64     `json:"input_shape"`
	InputDtype string       `json:"input_dtype"`
	Inputs     []string     `json:"inputs"`
	Outputs    []string     `json:"outputs"`
	Layers     []kerasLayer `json:"layers"`
}

func importKerasModel(c *cobra.Command, f *importFlags, path string) error {
	if f.out == "" {
		return fmt.Errorf("--out is required (the folder for config.yaml and weights.npz)")
	}
	if f.mnist && f.data != "" {
		return fmt.Errorf("--data %s and --mnist: give one", f.data)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	cfgPath, wPath := filepath.Join(f.out, "config.yaml"), filepath.Join(f.out, "weights.npz")
	for _, p := range []string{cfgPath, wPath} {
		if fileExists(p) {
			return fmt.Errorf("%s already exists: import into another folder", p)
		}
	}
	py, err := findPython(f.python)
	if err != nil {
		return err
	}
	km, arrays, err := describeKeras(c, py, path)
	if err != nil {
		return err
	}
	im, err := translateKeras(km, arrays)
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	cfg := im.config(f)
	if err := checkImported(cfg, im.weights); err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	var yml bytes.Buffer
	fmt.Fprintf(&yml, "# Imported by qat import from %s (%s, %s %q).\n", filepath.Base(path), km.Keras, km.Class, km.Name)
	fmt.Fprintf(&yml, "# Fine-tune: qat train --config %s --out RUN", cfgPath)
	if cfg.Data.NPZ == "" && !cfg.Data.MNIST && len(cfg.Input) > 1 {
		yml.WriteString(" --data DATA.npz")
	}
	yml.WriteString("\n")
	if cfg.Scheme == nil {
		yml.WriteString("# A float config; for QAT with tfmot's default 8-bit scheme add\n" +
			"#   scheme: {input_bits: 8, default: {weight_bits: 8, activation_bits: 8}}\n")
	}
	if err := cfg.Encode(&yml); err != nil {
		return err
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	if err := data.WriteNPZ(wPath, im.weights); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(cfgPath, yml.Bytes()); err != nil {
		os.Remove(wPath)
		return fmt.Errorf("write %s: %w", cfgPath, err)
	}
	out := c.OutOrStdout()
	for _, n := range im.notes {
		fmt.Fprintf(out, "note: %s\n", n)
	}
	fmt.Fprintf(out, "imported %s (%s): %d layers, %d weight arrays\nwrote %s\nwrote %s\n",
		path, km.Keras, len(cfg.Layers), len(im.weights), cfgPath, wPath)
	return nil
}

// describeKeras runs keras_export.py on path and reads what it wrote.
func describeKeras(c *cobra.Command, py, path string) (*kerasModel, map[string]data.Array, error) {
	tmp, err := os.MkdirTemp("", "qat-import-*")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	script := filepath.Join(tmp, "keras_export.py")
	if err := os.WriteFile(script, kerasExport, 0o600); err != nil {
		return nil, nil, err
	}
	jsonPath, npzPath := filepath.Join(tmp, "model.json"), filepath.Join(tmp, "weights.npz")
	cmd := exec.CommandContext(c.Context(), py, script, path, jsonPath, npzPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		// The script's own errors are one line "error: ...".
		for _, line := range strings.Split(stderr.String(), "\n") {
			if msg, ok := strings.CutPrefix(line, "error: "); ok {
				return nil, nil, fmt.Errorf("import: %s", msg)
			}
		}
		return nil, nil, fmt.Errorf("import %s: Keras failed (%s, with %s): %w\n%s", path, script, py, err, lastLines(stderr.String(), 15))
	}
	desc, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, nil, fmt.Errorf("import %s: %w", path, err)
	}
	km := &kerasModel{}
	if err := json.Unmarshal(desc, km); err != nil {
		return nil, nil, fmt.Errorf("import %s: the Keras description: %w", path, err)
	}
	arrays, err := data.ReadNPZ(npzPath)
	if err != nil {
		return nil, nil, fmt.Errorf("import %s: the Keras weights: %w", path, err)
	}
	return km, arrays, nil
}

// config is the qat config of the imported model: float (or --qat8),
// initialised from weights.npz beside it, Adam at 1e-4 as for
// fine-tuning, batches of 32 (Keras's default).
func (im *importedModel) config(f *importFlags) *models.Config {
	c := &models.Config{Input: im.input, Seed: models.DefaultSeed, Steps: models.DefaultSteps, BatchSize: 32,
		Optimizer: models.OptimizerConfig{Name: "adam", LearningRate: 1e-4, Beta1: models.DefaultBeta1,
			Beta2: models.DefaultBeta2, Epsilon: models.DefaultEpsilon},
		Data: models.DataConfig{Examples: models.DefaultExamples}, Init: "weights.npz", Layers: im.layers, Output: im.output}
	switch {
	case f.mnist:
		c.Data, c.Steps, c.Epochs = models.DataConfig{MNIST: true}, 0, 1
	case f.data != "":
		abs, err := filepath.Abs(f.data)
		if err != nil {
			abs = f.data
		}
		c.Data, c.Steps, c.Epochs = models.DataConfig{NPZ: abs}, 0, 1
	}
	if f.qat8 {
		c.Scheme = quant.Default8Bit()
	}
	return c
}

// checkImported builds the config's model and checks the weights give
// every variable with its shape, and nothing else (InitialWeights reports
// names the model lacks).
func checkImported(cfg *models.Config, weights map[string]data.Array) error {
	m, err := cfg.Model()
	if err != nil {
		return err
	}
	all, err := m.InitialWeights(weights, cfg.Seed)
	if err != nil {
		return err
	}
	for name := range all {
		if _, ok := weights[name]; !ok {
			return fmt.Errorf("the Keras model has no weight for variable %s", name)
		}
	}
	return nil
}
