package savedmodel_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
)

// The files of a SavedModel that FuzzLoad mutates.
var fuzzFiles = []string{"saved_model.pb", savedmodel.VariablesPrefix + ".index", savedmodel.VariablesPrefix + ".data-00000-of-00001"}

// FuzzLoad loads a SavedModel folder whose saved_model.pb and variables
// files are arbitrary bytes (seeded with those Export writes for the
// article's Example 1, a 10 -> 2 model, so each run is cheap). Load must
// return an error or a model whose Predict returns one row per example or
// an error: never panic or crash the process. The corpus in
// testdata/fuzz/FuzzLoad runs with plain go test.
func FuzzLoad(f *testing.F) {
	m := models.Example1()
	w, err := m.InitialWeights(nil, 1)
	if err != nil {
		f.Fatal(err)
	}
	dir := filepath.Join(f.TempDir(), "model")
	if err := savedmodel.Export(dir, m, w, nil); err != nil {
		f.Fatal(err)
	}
	var seed [3][]byte
	for i, name := range fuzzFiles {
		if seed[i], err = os.ReadFile(filepath.Join(dir, name)); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(seed[0], seed[1], seed[2])
	cfg := tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1}
	x, err := data.Synthetic(3, 10, 2, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pb, index, data []byte) {
		stuck := time.AfterFunc(time.Minute, func() { panic("FuzzLoad: one input took over a minute") }) // a hang becomes a crasher
		defer stuck.Stop()
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "variables"), 0o755); err != nil {
			t.Fatal(err)
		}
		for i, b := range [][]byte{pb, index, data} {
			if err := os.WriteFile(filepath.Join(dir, fuzzFiles[i]), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		loaded, err := savedmodel.Load(dir, cfg)
		if err != nil {
			return
		}
		defer loaded.Close()
		if in := loaded.Input(); len(in) != 1 || in[0] != 10 {
			return
		}
		out, err := loaded.Predict(x.X)
		if err == nil && (len(out.Shape) == 0 || out.Shape[0] != 3) {
			t.Fatalf("Predict of 3 examples gave shape %v", out.Shape)
		}
	})
}
