package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/savedmodel"
	"github.com/spf13/cobra"
)

type exportFlags struct {
	from, config, out string
	example           int
}

func newExport() *cobra.Command {
	f := &exportFlags{}
	c := &cobra.Command{
		Use:   "export",
		Short: "Write a trained model as a TensorFlow SavedModel",
		Long: `Export the inference graph of a model trained by qat train (fake-quant ops
with the trained ranges, batch norms with their moving statistics) as a
SavedModel that TensorFlow Serving, Python (tf.saved_model.load), the TFLite
converter and Go (LoadSavedModel) load. Its signature serving_default takes
x (float32 [batch, input...]) and returns logits. The model comes from
--config (default: DIR/config.yaml, which qat train writes) and the values
from DIR/weights.npz and DIR/ranges.npz.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return export(c, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.from, "from", "", "the output `DIR` of a qat train run (required)")
	fl.StringVar(&f.config, "config", "", "the model's YAML `file` (default DIR/config.yaml)")
	fl.IntVar(&f.example, "example", 0, "the model is the article's example `N` instead of a config")
	fl.StringVar(&f.out, "out", "", "write the SavedModel to this new `folder` (default DIR/saved_model; for TF Serving, BASE/N, BASE made if missing)")
	return c
}

func export(c *cobra.Command, f *exportFlags) error {
	if f.from == "" {
		return fmt.Errorf("--from is required: the folder qat train wrote weights.npz and ranges.npz to")
	}
	m, err := exportModel(f)
	if err != nil {
		return err
	}
	weights, err := data.ReadNPZ(filepath.Join(f.from, "weights.npz"))
	if err != nil {
		return err
	}
	ranges := map[string]data.Array{}
	if rp := filepath.Join(f.from, "ranges.npz"); fileExists(rp) {
		if ranges, err = data.ReadNPZ(rp); err != nil {
			return err
		}
	}
	out := f.out
	if out == "" {
		out = filepath.Join(f.from, "saved_model")
	}
	// A TF Serving base path (--out BASE/N) may not exist yet; folders made
	// for it go again if the export fails.
	made := firstMissing(filepath.Dir(out))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := savedmodel.Export(out, m, data.Weights(weights), data.Weights(ranges)); err != nil {
		if made != "" {
			os.RemoveAll(made)
		}
		return err
	}
	fmt.Fprintf(c.OutOrStdout(), "wrote SavedModel %s (signature serving_default: x %v -> logits)\n", out, m.Input)
	return nil
}

func exportModel(f *exportFlags) (models.Model, error) {
	if f.example != 0 {
		return models.Example(f.example)
	}
	path := f.config
	if path == "" {
		path = filepath.Join(f.from, "config.yaml")
	}
	cfg, err := models.LoadConfig(path)
	if err != nil {
		return models.Model{}, err
	}
	return cfg.Model()
}

// firstMissing returns the outermost folder of dir that does not exist
// ("" if dir exists).
func firstMissing(dir string) string {
	missing := ""
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			return missing
		}
		missing = d
		if filepath.Dir(d) == d {
			return missing
		}
	}
}
