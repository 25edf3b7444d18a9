package main

import (
	"encoding/json"
	"fmt"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
	"github.com/spf13/cobra"
)

type evalFlags struct {
	savedModel, data string
	scale            string
	threads          int
	json             bool
	numerics         string
}

func newEval() *cobra.Command {
	f := &evalFlags{}
	c := &cobra.Command{
		Use:   "eval",
		Short: "Measure an exported SavedModel's accuracy, in Go",
		Long: `Load a SavedModel (qat export's, or any whose serving_default signature
has one float32 input, of any name, and an output "logits" or a single
output) with TensorFlow's loader, run it on the MNIST test set (10,000
images) or on --data, and print its accuracy: the argmax of the logits
against the labels. --numerics graph (the default) runs the graph as a
loaded SavedModel's signature runs in Python; eager runs each op as
written. For a model exported by qat export this equals
fake_quant_accuracy in the run's metrics.json: the exported graph computes
the training graph's inference outputs bit for bit. No Python is involved.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return eval(c, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.savedModel, "saved-model", "", "the SavedModel `folder` (required)")
	fl.StringVar(&f.data, "data", "", "evaluate on this .npz `file` with x [N, input...] and y one-hot [N, classes] (default: the MNIST test set)")
	fl.StringVar(&f.scale, "scale", "", "multiply --data's x by this `number` (e.g. 1/255; required for uint8 x)")
	fl.IntVar(&f.threads, "threads", 1, "TensorFlow intra-op threads")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON")
	fl.StringVar(&f.numerics, "numerics", "graph", "whose bits to reproduce: `graph` (tf.function, Python's loaded SavedModels; faster) or eager (eager TensorFlow)")
	return c
}

// evalResult is what qat eval reports.
type evalResult struct {
	SavedModel   string  `json:"saved_model"`
	Data         string  `json:"data"`
	TestExamples int     `json:"test_examples"`
	Accuracy     float64 `json:"accuracy"`
}

func eval(c *cobra.Command, f *evalFlags) error {
	if f.savedModel == "" {
		return fmt.Errorf("--saved-model is required")
	}
	if f.threads < 1 {
		return fmt.Errorf("--threads %d: want at least 1", f.threads)
	}
	numerics, err := tfgraph.ParseNumerics(f.numerics)
	if err != nil || f.numerics == "" {
		return fmt.Errorf("--numerics %q: want graph (tf.function, Python's loaded SavedModels) or eager (eager TensorFlow)", f.numerics)
	}
	m, err := savedmodel.Load(f.savedModel, tfgraph.SessionConfig{IntraOpThreads: f.threads, InterOpThreads: tfgraph.InlineOps, Numerics: numerics})
	if err != nil {
		return err
	}
	defer m.Close()
	res := evalResult{SavedModel: f.savedModel, Data: "mnist test set"}
	var test data.Dataset
	if f.data != "" {
		res.Data = f.data
		scale, err := parseScaleFlag(c, f.scale)
		if err != nil {
			return err
		}
		if test, err = models.ReadDatasetScaled(f.data, scale); err != nil {
			return err
		}
	} else if _, test, err = mnistFor(m.Input()); err != nil {
		return err
	}
	logits, err := m.Predict(test.X)
	if err != nil {
		return err
	}
	if res.Accuracy, err = loop.Accuracy(logits, test.Y); err != nil {
		return fmt.Errorf("%s: %w", res.Data, err)
	}
	res.TestExamples = int(test.X.Shape[0])
	if !f.json {
		fmt.Fprintf(c.OutOrStdout(), "%s: accuracy %.2f%% on %d examples (%s)\n", f.savedModel, 100*res.Accuracy, res.TestExamples, res.Data)
		return nil
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(c.OutOrStdout(), "%s\n", b)
	return nil
}
