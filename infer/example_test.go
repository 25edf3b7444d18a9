package infer_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/qat-go/qat/infer"
	"github.com/qat-go/qat/internal/runtest"
	"github.com/qat-go/qat/tfgraph"
)

// Run a trained model from its run folder (as qat train writes it; here a
// small 8-bit CNN trained for 20 steps) on new examples, and keep the
// classes.
func ExampleOpen() {
	parent, err := os.MkdirTemp("", "qat-infer")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(parent)
	dir := filepath.Join(parent, "run")
	if _, _, err := runtest.Write(dir, runtest.SmallCNN); err != nil {
		log.Fatal(err)
	}

	kind, err := infer.Detect(dir)
	if err != nil {
		log.Fatal(err)
	}
	m, err := infer.Open(dir, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	x := runtest.Data(10, m.Input(), 5, 1).X // x [10, 8, 8, 1]
	logits, err := m.Predict(x, infer.DefaultBatch)
	if err != nil {
		log.Fatal(err)
	}
	classes, err := infer.Classes(logits)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(kind, m.Input(), "->", logits.Shape, len(classes), "classes")
	if err := infer.Write(filepath.Join(parent, "preds.npz"), logits, infer.ClassIDs); err != nil {
		log.Fatal(err)
	}
	// Output: run [8 8 1] -> [10 5] 10 classes
}
