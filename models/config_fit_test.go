package models_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
)

const fitBase = "inputs: 4\nbatch_size: 2\nlayers: [{units: 3}]\n"

// The fit keys' bad values are clear errors naming the key.
func TestConfigFitErrors(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"split 1", "validation_split: 1\n", "validation_split 1 must be in (0, 1)"},
		{"split above 1", "validation_split: 1.5\n", "validation_split 1.5 must be in (0, 1)"},
		{"negative split", "validation_split: -0.1\n", "validation_split -0.1 must be in (0, 1)"},
		{"split and npz", "validation_split: 0.2\nvalidation: {npz: v.npz}\n", "give either validation_split (0.2) or validation (npz: v.npz), not both"},
		{"validation without npz", "validation: {}\n", "validation: npz is missing"},
		{"validation key typo", "validation: {nzp: v.npz}\n", `unknown key "nzp" in validation (known keys: npz)`},
		{"negative patience", "early_stopping: {patience: -1}\n", "early_stopping: patience -1 must be >= 0"},
		{"early stopping mode", "early_stopping: {mode: up}\n", `early_stopping: mode "up": want auto, min or max`},
		{"negative min_delta", "early_stopping: {min_delta: -0.5}\n", "early_stopping: min_delta -0.5 must be finite and >= 0"},
		{"early stopping key typo", "early_stopping: {monitr: loss}\n", `unknown key "monitr" in early_stopping`},
		{"best checkpoint mode", "best_checkpoint: {mode: best}\n", `best_checkpoint: mode "best"`},
		{"best checkpoint key typo", "best_checkpoint: {save_best_only: true}\n", `unknown key "save_best_only" in best_checkpoint (known keys: monitor, mode, min_delta)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := models.ParseConfig(strings.NewReader(fitBase + c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseConfig = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// The fit keys read back with their defaults, and survive Encode.
func TestConfigFitRoundTrip(t *testing.T) {
	c, err := models.ParseConfig(strings.NewReader(fitBase + "validation_split: 0.25\nearly_stopping: {patience: 3}\nbest_checkpoint: {monitor: val_accuracy}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.EarlyStopping.Monitor != "val_loss" || c.EarlyStopping.Mode != "auto" || c.EarlyStopping.Patience != 3 || c.BestCheckpoint.Monitor != "val_accuracy" || c.BestCheckpoint.Mode != "auto" {
		t.Fatalf("early_stopping %+v, best_checkpoint %+v", *c.EarlyStopping, *c.BestCheckpoint)
	}
	var b strings.Builder
	if err := c.Encode(&b); err != nil {
		t.Fatal(err)
	}
	c2, err := models.ParseConfig(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("%v in\n%s", err, b.String())
	}
	if c2.ValidationSplit != 0.25 || *c2.EarlyStopping != *c.EarlyStopping || *c2.BestCheckpoint != *c.BestCheckpoint {
		t.Fatalf("read back %+v, want %+v", c2, c)
	}
}

// validation_split holds out the last floor-complement of the examples,
// as Keras's (split at floor(N * (1 - split))); a split that leaves an
// empty side, and a validation .npz of the wrong shape, are errors.
func TestConfigSplitValidation(t *testing.T) {
	d, err := data.Synthetic(10, 4, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		split      float64
		train, val int
		want       string
	}{
		{0.25, 7, 3, ""}, {0.05, 9, 1, ""}, {0.5, 5, 5, ""},
		{0.99, 0, 0, "validation_split 0.99 of 10 examples leaves 0 for training and 10 for validation; both need at least one"},
		{0.001, 9, 1, ""}, // floor(9.99) = 9
		{0.85, 0, 0, "leaves 1 training examples, fewer than batch_size 2"},
	} {
		cfg, err := models.ParseConfig(strings.NewReader(fitBase))
		if err != nil {
			t.Fatal(err)
		}
		cfg.ValidationSplit = c.split
		tr, val, err := cfg.SplitValidation(d)
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("split %g: %v, want an error containing %q", c.split, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if tr.Len() != c.train || val.Len() != c.val {
			t.Errorf("split %g: %d training and %d validation examples, want %d and %d", c.split, tr.Len(), val.Len(), c.train, c.val)
		}
		if val.X.Data[0] != d.X.Data[c.train*4] || tr.X.Data[0] != d.X.Data[0] {
			t.Errorf("split %g: the validation data are not the last examples", c.split)
		}
	}

	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		arrays data.Weights
		want   string
	}{
		{"x of another width", data.Weights{"x": {Shape: []int64{5, 3}, Data: make([]float32, 15)}, "y": {Shape: []int64{5, 3}, Data: oneHot(5, 3)}}, "x has shape [5 3], the model needs [N, 4]"},
		{"y of another class count", data.Weights{"x": {Shape: []int64{5, 4}, Data: make([]float32, 20)}, "y": {Shape: []int64{5, 2}, Data: oneHot(5, 2)}}, "y has shape [5 2], the model needs [N, 3]"},
		{"no y", data.Weights{"x": {Shape: []int64{5, 4}, Data: make([]float32, 20)}}, "y"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".npz")
			if err := data.WriteNPZ(path, c.arrays); err != nil {
				t.Fatal(err)
			}
			cfg, err := models.ParseConfig(strings.NewReader(fitBase + "validation: {npz: " + path + "}\n"))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = cfg.SplitValidation(d)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "validation") {
				t.Fatalf("SplitValidation = %v, want an error naming validation and containing %q", err, c.want)
			}
		})
	}
}

func oneHot(n, classes int) []float32 {
	y := make([]float32, n*classes)
	for i := 0; i < n; i++ {
		y[i*classes+i%classes] = 1
	}
	return y
}

// With the sparse loss, the training and validation files' class ids may
// be [N] or [N, 1] (taken as [N], as Keras squeezes them), and the
// validation file's x is scaled as the training data's.
func TestConfigSparseValidation(t *testing.T) {
	dir := t.TempDir()
	x := make([]float32, 5*4)
	for i := range x {
		x[i] = float32(i)
	}
	ids := []float32{0, 2, 1, 1, 0}
	for _, c := range []struct {
		name    string
		file    string
		yShape  []int64
		valBad  bool
		wantErr string
	}{
		{"ids [N]", "n", []int64{5}, false, ""},
		{"ids [N, 1]", "n1", []int64{5, 1}, false, ""},
		{"ids [N, 1] out of range", "bad", []int64{5, 1}, true, "validation: " + filepath.Join(dir, "bad_val.npz") + ": data: y row 1 (counting from 0) is 3; class ids must be integers in [0, 3)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := filepath.Join(dir, c.file)
			val := slices.Clone(ids)
			if c.valBad {
				val[1] = 3
			}
			if err := data.WriteNPZ(base+".npz", data.Weights{"x": {Shape: []int64{5, 4}, Data: x}, "y": {Shape: c.yShape, Data: ids}}); err != nil {
				t.Fatal(err)
			}
			if err := data.WriteNPZ(base+"_val.npz", data.Weights{"x": {Shape: []int64{5, 4}, Data: x}, "y": {Shape: c.yShape, Data: val}}); err != nil {
				t.Fatal(err)
			}
			cfg, err := models.ParseConfig(strings.NewReader(fitBase + "loss: {name: sparse_categorical_crossentropy}\ndata: {npz: " + base + ".npz, scale: 0.5}\nvalidation: {npz: " + base + "_val.npz}\n"))
			if err != nil {
				t.Fatal(err)
			}
			d, err := cfg.Dataset()
			if err != nil {
				t.Fatal(err)
			}
			_, v, err := cfg.SplitValidation(d)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("SplitValidation = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, got := range []data.Dataset{d, *v} {
				if len(got.Y.Shape) != 1 || got.Y.Shape[0] != 5 || got.X.Data[3] != 1.5 {
					t.Errorf("y shape %v, x[3] %v: want class ids [5] and x scaled by 0.5 (1.5)", got.Y.Shape, got.X.Data[3])
				}
			}
		})
	}
}
