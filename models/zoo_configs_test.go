package models_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

var updateConfigs = flag.Bool("update-configs", false, "rewrite configs/mnist_{mobilenetv2,resnet8}_*.yaml from the constructors")

// zooRun is one of the zoo's MNIST configs: the model, its scheme and how
// it trains (as the CNN's configs: float at 1e-3, QAT fine-tuned 1 epoch
// at 1e-4 from the float weights; MobileNetV2's float run is 1 epoch, to fit
// the README's runs in an hour on 2 cores).
type zooRun struct {
	file, comment string
	scheme        *qat.Scheme
	epochs        int
	lr            float64
}

func zooRuns(model, title string, floatEpochs int) []zooRun {
	head := fmt.Sprintf("# written from the constructor by `go test ./models -run TestZooConfigs -update-configs`;\n"+
		"# `make mnist-zoo` runs the README's recipe.\n#   qat train --config configs/mnist_%s_", model)
	return []zooRun{
		{fmt.Sprintf("mnist_%s_float.yaml", model),
			fmt.Sprintf("# Float %s on MNIST,\n%sfloat.yaml --threads 2 --out out/float\n", title, head),
			nil, floatEpochs, 0.001},
		{fmt.Sprintf("mnist_%s_qat8.yaml", model),
			fmt.Sprintf("# %s, QAT with tfmot's default 8-bit scheme fine-tuning the float model,\n%sqat8.yaml --threads 2 --init out/float/weights.npz --out out/qat8\n", title, head),
			qat.Default8Bit(), 1, 0.0001},
		{fmt.Sprintf("mnist_%s_w4a8.yaml", model),
			fmt.Sprintf("# %s, QAT with 4-bit weights and 8-bit activations fine-tuning the float model,\n%sw4a8.yaml --threads 2 --init out/float/weights.npz --out out/w4a8\n", title, head),
			qat.Bits(4, 8), 1, 0.0001},
	}
}

// zooModels are the constructors the configs are written from.
var zooModels = []struct {
	name, title string
	floatEpochs int
	make        func(*qat.Scheme) (models.Model, error)
}{
	{"mobilenetv2", "MobileNetV2-0.35", 1, func(s *qat.Scheme) (models.Model, error) {
		return models.MobileNetV2(0.35, []int64{28, 28, 1}, 10, s)
	}},
	{"resnet8", "ResNet-8", 2, func(s *qat.Scheme) (models.Model, error) { return models.ResNet(8, []int64{28, 28, 1}, 10, s) }},
}

// TestZooConfigs checks that each zoo config reads back as the model its
// constructor builds: the same layers, wiring, output and scheme.
func TestZooConfigs(t *testing.T) {
	for _, z := range zooModels {
		for _, r := range zooRuns(z.name, z.title, z.floatEpochs) {
			t.Run(r.file, func(t *testing.T) {
				want, err := z.make(r.scheme)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("..", "configs", r.file)
				if *updateConfigs {
					text, err := configText(want, r)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, text, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				cfg, err := models.LoadConfig(path)
				if err != nil {
					t.Fatal(err)
				}
				got, err := cfg.Model()
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.Layers, want.Layers) {
					for i := range min(len(got.Layers), len(want.Layers)) {
						if !reflect.DeepEqual(got.Layers[i], want.Layers[i]) {
							t.Fatalf("layer %d: config %#v, constructor %#v", i, got.Layers[i], want.Layers[i])
						}
					}
					t.Fatalf("config has %d layers, constructor %d", len(got.Layers), len(want.Layers))
				}
				for _, c := range []struct {
					what      string
					got, want any
				}{{"inputs", got.From, want.From}, {"input", got.Input, want.Input}, {"output", got.Output, want.Output},
					{"scheme", got.Scheme, want.Scheme}, {"fold", got.FoldBatchNorm, want.FoldBatchNorm}} {
					if !reflect.DeepEqual(c.got, c.want) {
						t.Errorf("%s: config %v, constructor %v", c.what, c.got, c.want)
					}
				}
				if !cfg.Data.MNIST || cfg.Epochs != r.epochs || cfg.Optimizer.LearningRate != r.lr || cfg.BatchSize != 64 {
					t.Errorf("config trains %+v for %d epochs of %d at %g, want MNIST, %d epochs of 64 at %g",
						cfg.Data, cfg.Epochs, cfg.BatchSize, cfg.Optimizer.LearningRate, r.epochs, r.lr)
				}
			})
		}
	}
}

// configText writes m as a config, one flow mapping per layer.
func configText(m models.Model, r zooRun) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(r.comment)
	fmt.Fprintf(&b, "input: %s\ndata: {mnist: true}\nseed: 1\nbatch_size: 64\nepochs: %d\n", ints(m.Input), r.epochs)
	fmt.Fprintf(&b, "optimizer: {name: adam, learning_rate: %g}\n", r.lr)
	if s := r.scheme; s != nil {
		fmt.Fprintf(&b, "scheme:\n  input_bits: %d\n  default: {weight_bits: %d, activation_bits: %d}\n",
			s.InputBits, s.Default.WeightBits, s.Default.ActivationBits)
	}
	b.WriteString("layers:\n")
	for _, l := range m.Layers {
		keys, err := layerKeys(l)
		if err != nil {
			return nil, err
		}
		if from, ok := m.From[l.LayerName()]; ok {
			keys = append(keys, "inputs: ["+strings.Join(from, ", ")+"]")
		}
		fmt.Fprintf(&b, "  - {%s}\n", strings.Join(keys, ", "))
	}
	return b.Bytes(), nil
}

// layerKeys are a zoo layer's config keys, type and name first.
func layerKeys(l layers.Layer) ([]string, error) {
	window := func(k, s [2]int, pad string, noBias bool) []string {
		keys := []string{"kernel: " + ints(k[:])}
		if s != [2]int{} && s != [2]int{1, 1} {
			keys = append(keys, "strides: "+ints(s[:]))
		}
		if pad != "" {
			keys = append(keys, "padding: "+pad)
		}
		if noBias {
			keys = append(keys, "no_bias: true")
		}
		return keys
	}
	head := func(typ string) []string { return []string{"type: " + typ, "name: " + l.LayerName()} }
	switch l := l.(type) {
	case layers.Conv2D:
		if l.Activation != "" {
			return nil, fmt.Errorf("conv %s: activation not written", l.Name)
		}
		return append(append(head(models.TypeConv2D), fmt.Sprintf("filters: %d", l.Filters)), window(l.Kernel, l.Strides, l.Padding, l.NoBias)...), nil
	case layers.DepthwiseConv2D:
		if l.Activation != "" || l.Multiplier != 0 {
			return nil, fmt.Errorf("depthwise %s: activation or multiplier not written", l.Name)
		}
		return append(head(models.TypeDepthwise), window(l.Kernel, l.Strides, l.Padding, l.NoBias)...), nil
	case layers.BatchNorm:
		if l.Momentum != 0 || l.Epsilon != 0 {
			return nil, fmt.Errorf("batch norm %s: momentum or epsilon not written", l.Name)
		}
		return head(models.TypeBatchNorm), nil
	case layers.ReLU:
		if l.Max6 {
			return head(models.TypeReLU6), nil
		}
		return head(models.TypeReLU), nil
	case layers.Add:
		return head(models.TypeAdd), nil
	case layers.GlobalAvgPool:
		return head(models.TypeGlobalAvgPool), nil
	case layers.Dense:
		if l.Activation != "" {
			return nil, fmt.Errorf("dense %s: activation not written", l.Name)
		}
		return append(head(models.TypeDense), fmt.Sprintf("units: %d", l.Units)), nil
	}
	return nil, fmt.Errorf("layer %s: %T is not written by configText", l.LayerName(), l)
}

func ints[T int | int64](v []T) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
