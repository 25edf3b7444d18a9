// Package runtest writes trained run folders (config.yaml, weights.npz,
// ranges.npz, as qat train leaves them) for the tests of packages that
// read them.
package runtest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
)

// SmallCNN is an 8-bit QAT model (tfmot's default scheme) with every kind
// of quantizer: the input's, per-channel convolution weights, per-tensor
// 4-bit asymmetric dense weights, and activations after a batch norm
// and ReLU.
const SmallCNN = `input: [8, 8, 1]
seed: 3
steps: 20
batch_size: 16
optimizer: {name: adam, learning_rate: 0.01}
layers:
  - {name: conv1, type: conv2d, filters: 4, kernel: [3, 3], no_bias: true}
  - {name: bn1, type: batch_norm}
  - {name: relu1, type: relu}
  - {name: pool1, type: max_pool, size: [2, 2]}
  - {name: flat, type: flatten}
  - {name: fc, type: dense, units: 5}
scheme: {default: {weight_bits: 8, activation_bits: 8}, input_bits: 8, layers: {fc: {weight_bits: 4, activation_bits: 8, asymmetric: true}}}
`

// Data returns n examples for input: x ~ N(0, 1) and one-hot y over
// classes, from seed.
func Data(n int, input []int64, classes int, seed uint64) data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	row := 1
	for _, d := range input {
		row *= int(d)
	}
	x := make([]float32, n*row)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]float32, n*classes)
	for i := 0; i < n; i++ {
		y[i*classes+rng.IntN(classes)] = 1
	}
	return data.Dataset{X: data.Array{Shape: append([]int64{int64(n)}, input...), Data: x},
		Y: data.Array{Shape: []int64{int64(n), int64(classes)}, Data: y}}
}

// Train trains the config in yaml for its steps on 64 examples of Data
// (graph numerics, one thread) and writes its run folder into a new
// temporary folder, which it returns with the model and the data.
func Train(t testing.TB, yaml string) (string, models.Model, data.Dataset) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	m, d, err := Write(dir, yaml)
	if err != nil {
		t.Fatal(err)
	}
	return dir, m, d
}

// Write is Train writing into the new folder dir, for examples.
func Write(dir, yaml string) (models.Model, data.Dataset, error) {
	cfg, err := models.ParseConfig(strings.NewReader(yaml))
	if err != nil {
		return models.Model{}, data.Dataset{}, err
	}
	m, err := cfg.Model()
	if err != nil {
		return m, data.Dataset{}, err
	}
	d := Data(64, m.Input, m.Classes(), cfg.Seed)
	w, r, err := train(cfg, m, d)
	if err != nil {
		return m, d, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return m, d, err
	}
	var conf bytes.Buffer
	if err := cfg.Encode(&conf); err != nil {
		return m, d, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), conf.Bytes(), 0o644); err != nil {
		return m, d, err
	}
	for name, arrays := range map[string]data.Weights{"weights.npz": w, "ranges.npz": r} {
		if err := data.WriteNPZ(filepath.Join(dir, name), arrays); err != nil {
			return m, d, err
		}
	}
	return m, d, nil
}

// train runs cfg's steps and returns the weights and ranges.
func train(cfg *models.Config, m models.Model, d data.Dataset) (w, r data.Weights, err error) {
	init, err := m.InitialWeights(nil, cfg.Seed)
	if err != nil {
		return nil, nil, err
	}
	lc := loop.DefaultConfig()
	if lc.Optimizer, err = loop.NewOptimizer(cfg.Optimizer); err != nil {
		return nil, nil, err
	}
	lc.Seed, lc.DataSeed, lc.BatchSize = cfg.Seed, cfg.Seed, cfg.BatchSize
	lc.Session = tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps, Numerics: tfgraph.GraphNumerics}
	tr, err := loop.NewTrainer(m, d, init, lc)
	if err != nil {
		return nil, nil, err
	}
	defer tr.Close()
	if err := tr.Run(context.Background(), cfg.Steps, nil); err != nil {
		return nil, nil, err
	}
	if w, err = tr.Weights(); err != nil {
		return nil, nil, err
	}
	r, err = tr.Ranges()
	return w, r, err
}
