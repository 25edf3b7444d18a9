package savedmodel_test

import (
	"context"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
)

// Train a quantization-aware MLP for a few steps, export it, and load it
// back with TensorFlow's SavedModel loader to run it.
func ExampleExport() {
	m := models.MLP(qat.Default8Bit())
	data, err := data.Synthetic(64, 784, 10, 1)
	if err != nil {
		log.Fatal(err)
	}
	cfg := loop.DefaultConfig()
	cfg.BatchSize = 32
	tr, err := loop.NewTrainer(m, data, nil, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Run(context.Background(), 2, nil); err != nil {
		log.Fatal(err)
	}
	weights, err := tr.Weights()
	if err != nil {
		log.Fatal(err)
	}
	ranges, err := tr.Ranges()
	if err != nil {
		log.Fatal(err)
	}

	parent, err := os.MkdirTemp("", "qat-export")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(parent)
	dir := filepath.Join(parent, "saved_model") // must not exist yet
	if err := savedmodel.Export(dir, m, weights, ranges); err != nil {
		log.Fatal(err)
	}

	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			fmt.Println(filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	loaded, err := savedmodel.Load(dir, tfgraph.SessionConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer loaded.Close()
	logits, err := loaded.Predict(data.X)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("input", loaded.Input(), "logits", logits.Shape)
	// Output:
	// saved_model.pb
	// variables/variables.data-00000-of-00001
	// variables/variables.index
	// input [784] logits [64 10]
}
