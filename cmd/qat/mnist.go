package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/data/mnist"
	"github.com/qat-go/qat/internal/atomicfile"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
)

// datasets returns the training data the config asks for and, for MNIST,
// the held-out test set.
func datasets(cfg *models.Config, m models.Model) (train data.Dataset, test *data.Dataset, err error) {
	if !cfg.Data.MNIST {
		train, err = cfg.Dataset()
		return train, nil, err
	}
	tr, te, err := mnistFor(m.Input)
	if err != nil {
		return data.Dataset{}, nil, err
	}
	if cfg.Loss.Labels() == data.ClassIDs { // the digits as class ids
		tr.Y, te.Y = data.ClassIDsOf(tr.Y), data.ClassIDsOf(te.Y)
	}
	if err := tr.ValidateLabels(m.Input, m.Classes(), cfg.Loss.Labels()); err != nil {
		return data.Dataset{}, nil, fmt.Errorf("mnist: %w", err)
	}
	return tr, &te, nil
}

// mnistFor returns MNIST's training and test sets shaped for a model's
// input: [N, 28, 28, 1] images, or [N, 784] rows for a model whose input
// is [784] (an MLP).
func mnistFor(input []int64) (train, test data.Dataset, err error) {
	tr, te, err := mnist.Load()
	if err != nil {
		return data.Dataset{}, data.Dataset{}, err
	}
	if len(input) == 1 && input[0] == 28*28 {
		tr.X.Shape, te.X.Shape = []int64{tr.X.Shape[0], 784}, []int64{te.X.Shape[0], 784}
	}
	if !tfgraph.SameShape(te.X.Shape[1:], input) {
		return data.Dataset{}, data.Dataset{}, fmt.Errorf("mnist: the model's input %v takes neither [28 28 1] images nor [784] rows", input)
	}
	return tr, te, nil
}

// calibrate runs the float model over the first CalibrationBatches
// batches (in the training order) and returns the ranges to start from.
func calibrate(m models.Model, ds data.Dataset, init data.Weights, cfg *models.Config, lc loop.Config) (map[string][]float32, error) {
	b, err := data.NewBatcher(ds, cfg.BatchSize, lc.DataSeed)
	if err != nil {
		return nil, err
	}
	var xs []data.Array
	for i := 0; i < cfg.CalibrationBatches; i++ {
		x, _ := b.Next()
		xs = append(xs, x)
	}
	return loop.Calibrate(m, xs, init, lc.Seed, lc.Session)
}

// metrics is what DIR/metrics.json records about a model on the test set.
type metrics struct {
	TestExamples int `json:"test_examples"`
	// FakeQuantAccuracy is the inference graph's accuracy: quantizers
	// with their trained ranges (equal to FloatAccuracy for float models).
	FakeQuantAccuracy float64 `json:"fake_quant_accuracy"`
	// FloatAccuracy is the same weights' accuracy with every quantizer off.
	FloatAccuracy float64 `json:"float_accuracy"`
	// History is the run's epochs, as in history.csv.
	History []historyRow `json:"history,omitempty"`
}

// evaluate reports the test accuracy of the trained model with and without
// fake quantization and writes DIR/metrics.json.
func evaluate(stdout io.Writer, dir string, m models.Model, tr *loop.Trainer, test data.Dataset, lc loop.Config, history []loop.EpochResult) error {
	fq, err := tr.Evaluate(test)
	if err != nil {
		return err
	}
	w, err := tr.Weights()
	if err != nil {
		return err
	}
	fm := m
	fm.Scheme = nil
	ev, err := loop.NewEvaluator(fm, w, nil, lc.Session)
	if err != nil {
		return err
	}
	defer ev.Close()
	fl, err := ev.Evaluate(test)
	if err != nil {
		return err
	}
	res := metrics{TestExamples: int(test.X.Shape[0]), FakeQuantAccuracy: fq, FloatAccuracy: fl, History: historyRows(history)}
	if m.Scheme != nil {
		fmt.Fprintf(stdout, "test accuracy: fake-quant %.2f%%, float %.2f%% (%d images)\n", 100*fq, 100*fl, res.TestExamples)
	} else {
		fmt.Fprintf(stdout, "test accuracy: %.2f%% (float model, %d images)\n", 100*fl, res.TestExamples)
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "metrics.json"), append(data, '\n'))
}
