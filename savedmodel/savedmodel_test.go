package savedmodel_test

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/data/mnist"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

var (
	mnistOnce             sync.Once
	mnistTrain, mnistTest data.Dataset
	mnistErr              error
)

// trained trains m on MNIST (batches of 32, the default config) for steps
// steps and returns the trainer and the first n test images (flattened
// for vector models).
func trained(t *testing.T, m models.Model, steps, n int) (*loop.Trainer, data.Array) {
	t.Helper()
	mnistOnce.Do(func() { mnistTrain, mnistTest, mnistErr = mnist.Load() })
	if mnistErr != nil {
		t.Fatal(mnistErr)
	}
	train, test := mnistTrain, mnistTest
	shape := func(d data.Dataset) data.Dataset {
		d.X.Shape = append([]int64{d.X.Shape[0]}, m.Input...)
		return d
	}
	cfg := loop.DefaultConfig()
	cfg.BatchSize = 32
	tr, err := loop.NewTrainer(m, shape(train), nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	for i := 0; i < steps; i++ {
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := shape(test).Slice(0, n)
	if err != nil {
		t.Fatal(err)
	}
	return tr, sub.X
}

// TestExport trains models briefly on MNIST, exports them with the
// trainer's weights and ranges, and checks the folder: its layout and
// saved_model.pb (no training ops, no initial values in the graph); Go's
// LoadSavedModel (the C++ loader) and Python's tf.saved_model.load
// (load_v1_in_v2) restoring every value and computing, on 1,000 MNIST test
// images, the training graph's inference outputs (Trainer.Predict) bit for
// bit; the SaverDef's save op; and saved_model_cli describing the folder.
func TestExport(t *testing.T) {
	for _, c := range []struct {
		name  string
		model models.Model
	}{
		{"cnn_qat8", models.SmallCNN(qat.Default8Bit())},
		{"mlp_qat8", models.MLP(qat.Default8Bit())},
		{"mlp_float", models.MLP(nil)},
		{"cnn_bn_folded_qat8", models.MNISTCNNBN(qat.Default8Bit(), true)},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.model
			tr, x := trained(t, m, 20, 1000)
			want, err := tr.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			w, err := tr.Weights()
			if err != nil {
				t.Fatal(err)
			}
			r, err := tr.Ranges()
			if err != nil {
				t.Fatal(err)
			}
			values := data.Weights{}
			for _, set := range []data.Weights{w, r} {
				for k, v := range set {
					values[k] = v
				}
			}
			if m.Scheme == nil && len(r) != 0 {
				t.Fatalf("float model has ranges %v", r.Names())
			}
			// The moving statistics must have left their initial values, or
			// bit-identity would not show that they are exported and used.
			for name, initial := range map[string]float32{"bn1/moving_mean": 0, "bn2/moving_variance": 1} {
				if a, ok := w[name]; ok && !slices.ContainsFunc(a.Data, func(v float32) bool { return v != initial }) {
					t.Fatalf("%s is still %v after training", name, initial)
				} else if !ok && strings.Contains(c.name, "bn") {
					t.Fatalf("no %s among %v", name, w.Names())
				}
			}

			parent := t.TempDir()
			dir := filepath.Join(parent, "model")
			if err := savedmodel.Export(dir, m, w, r); err != nil {
				t.Fatal(err)
			}
			checkLayout(t, parent, dir)
			checkProto(t, dir, m, values)

			loaded, err := savedmodel.Load(dir, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer loaded.Close()
			if !slices.Equal(loaded.Input(), m.Input) {
				t.Errorf("loaded model's input %v, want %v", loaded.Input(), m.Input)
			}
			got, err := loaded.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			checkBits(t, "savedmodel.Load (Go LoadSavedModel) outputs", got.Data, want.Data)
			sm, err := tf.LoadSavedModel(dir, []string{savedmodel.Tag}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer sm.Session.Close()
			checkRestored(t, sm, values)
			checkSave(t, sm, dir)

			in, out := filepath.Join(t.TempDir(), "x.npz"), filepath.Join(t.TempDir(), "y.npz")
			if err := data.WriteNPZ(in, map[string]data.Array{"x": x}); err != nil {
				t.Fatal(err)
			}
			if _, err := oracle.Run("savedmodel_check.py", dir, in, out); err != nil {
				t.Fatal(err)
			}
			py, err := data.ReadNPZ(out)
			if err != nil {
				t.Fatal(err)
			}
			checkBits(t, "Python tf.saved_model.load outputs", py["logits"].Data, want.Data)
			n := 0
			for k, a := range py {
				if name, ok := strings.CutPrefix(k, "variable/"); ok {
					n++
					if v, ok := values[name]; !ok {
						t.Errorf("Python found variable %s, which was not exported", name)
					} else if same, _ := sameBits(a.Data, v.Data); same != len(v.Data) || len(a.Data) != len(v.Data) {
						t.Errorf("Python restored %s with %d of %d values bit-identical", name, same, len(v.Data))
					}
				}
			}
			if n != len(values) {
				t.Errorf("Python's loader found %d variables, want %d", n, len(values))
			}

			checkCLI(t, dir, m)
		})
	}
}

// untrained returns m's initial weights and, for every quantizer range it
// builds, [-1, 1].
func untrained(t *testing.T, m models.Model) (weights, ranges data.Weights) {
	t.Helper()
	weights, err := m.InitialWeights(nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	g := tfgraph.NewGraph()
	env := qat.NewEnv(g, false, nil)
	if _, err := m.Build(layers.NewBuilder(env, m.Scheme, weights, 0), g.Placeholder("x", tf.Float, append([]int64{-1}, m.Input...))); err != nil {
		t.Fatal(err)
	}
	ranges = data.Weights{}
	for _, v := range env.RangeVariables() {
		n := 1
		for _, d := range v.Shape {
			n *= int(d)
		}
		a := data.Array{Shape: v.Shape, Data: make([]float32, n)}
		for i := range a.Data {
			a.Data[i] = 1
			if strings.HasSuffix(v.Name, "_min") {
				a.Data[i] = -1
			}
		}
		ranges[v.Name] = a
	}
	return weights, ranges
}

// without returns a copy of w without name, or with its value replaced by
// with if with is not nil.
func without(w data.Weights, name string, with *data.Array) data.Weights {
	out := data.Weights{}
	for k, v := range w {
		out[k] = v
	}
	delete(out, name)
	if with != nil {
		out[name] = *with
	}
	return out
}

// listing returns every path under root.
func listing(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExportErrors checks that an existing folder, an unwritable parent,
// an invalid model and missing, unknown or non-finite values are errors
// that name the culprit and leave nothing behind.
func TestExportErrors(t *testing.T) {
	m := models.MLP(qat.Default8Bit())
	w, r := untrained(t, m)
	if _, ok := r["d1/post_activation_max"]; !ok {
		t.Fatalf("the MLP's ranges are %v", r.Names())
	}
	nan := data.Array{Shape: []int64{128}, Data: make([]float32, 128)}
	nan.Data[3] = float32(math.NaN())
	extra := data.Array{Shape: []int64{1}, Data: []float32{0}}
	base := t.TempDir()
	mkdir := func(name string, mode os.FileMode) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	exists := mkdir("exists", 0o755)
	readOnly := mkdir("ro", 0o555)
	t.Cleanup(func() { os.Chmod(readOnly, 0o755) })
	cases := []struct {
		name            string
		dir             string
		model           models.Model
		weights, ranges data.Weights
		want            []string // all in the error
	}{
		{"folder exists", exists, m, w, r, []string{"savedmodel: export folder " + exists + " already exists; remove it or choose another"}},
		{"file exists", file, m, w, r, []string{"savedmodel: export folder " + file + " already exists"}},
		{"missing weight", filepath.Join(base, "a"), m, without(w, "d2/kernel", nil), r, []string{"no value for variable d2/kernel"}},
		{"missing range", filepath.Join(base, "a"), m, w, without(r, "d1/post_activation_max", nil), []string{"no value for quantizer range d1/post_activation_max"}},
		{"unknown weight", filepath.Join(base, "a"), m, without(w, "d3/kernel", &extra), r, []string{"value for d3/kernel, which the model does not have"}},
		{"NaN weight", filepath.Join(base, "a"), m, without(w, "d1/bias", &nan), r, []string{"d1/bias[3] is NaN"}},
		{"invalid model", filepath.Join(base, "a"), models.Model{Input: []int64{784}}, w, r, []string{models.Model{Input: []int64{784}}.Validate().Error()}},
		{"parent is a file", filepath.Join(file, "m"), m, w, r, []string{"savedmodel: cannot write " + filepath.Join(file, "m") + ": ", "not a directory"}},
		{"parent missing", filepath.Join(base, "none", "m"), m, w, r, []string{"savedmodel: cannot write " + filepath.Join(base, "none", "m") + ": ", "no such file or directory"}},
		{"read-only parent", filepath.Join(readOnly, "m"), m, w, r, []string{"savedmodel: cannot write " + filepath.Join(readOnly, "m") + ": ", "permission denied"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "read-only parent" {
				if f, err := os.CreateTemp(readOnly, "probe"); err == nil {
					f.Close()
					os.Remove(f.Name())
					t.Skip("this user (root?) can write to a 0555 folder")
				}
			}
			before := listing(t, base)
			err := savedmodel.Export(c.dir, c.model, c.weights, c.ranges)
			if err == nil {
				t.Fatalf("no error, want one containing %q", c.want)
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q, want one containing %q", err, want)
				}
			}
			if after := listing(t, base); !slices.Equal(before, after) {
				t.Errorf("Export left files: before %v, after %v", before, after)
			}
		})
	}
}

// TestLoadErrors checks that a folder that is not a SavedModel, a corrupt
// saved_model.pb, missing variables and examples of the wrong shape are
// errors that name the problem.
func TestLoadErrors(t *testing.T) {
	m := models.MLP(qat.Default8Bit())
	w, r := untrained(t, m)
	good := filepath.Join(t.TempDir(), "model")
	if err := savedmodel.Export(good, m, w, r); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, "saved_model.pb"), []byte("not a proto"), 0o644); err != nil {
		t.Fatal(err)
	}
	noVars := filepath.Join(t.TempDir(), "model")
	if err := os.CopyFS(noVars, os.DirFS(good)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(noVars, "variables")); err != nil {
		t.Fatal(err)
	}
	cfg := tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1}
	for _, c := range []struct {
		name, dir string
		want      []string
	}{
		{"missing folder", filepath.Join(empty, "none"), []string{"savedmodel: " + filepath.Join(empty, "none") + " has no saved_model.pb: not a SavedModel"}},
		{"empty folder", empty, []string{"has no saved_model.pb"}},
		{"corrupt proto", corrupt, []string{"savedmodel: load " + corrupt + ": "}},
		{"no variables", noVars, []string{"savedmodel: " + noVars + ": ", " variables but no checkpoint (variables/variables.index)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := savedmodel.Load(c.dir, cfg)
			if err == nil {
				got.Close()
				t.Fatalf("no error, want one containing %q", c.want)
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q, want one containing %q", err, want)
				}
			}
		})
	}

	loaded, err := savedmodel.Load(good, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	for _, x := range []data.Array{
		{Shape: []int64{2, 28, 28, 1}, Data: make([]float32, 2*784)},
		{Shape: []int64{2, 783}, Data: make([]float32, 2*783)},
		{Shape: []int64{0, 784}},
		{Shape: []int64{2, 784}, Data: make([]float32, 784)},
	} {
		if _, err := loaded.Predict(x); err == nil || !strings.Contains(err.Error(), "savedmodel: predict: ") {
			t.Errorf("Predict of shape %v with %d values: error %v, want one naming the shape", x.Shape, len(x.Data), err)
		}
	}
}

// TestLoadConcurrentPredict runs Predict from several goroutines on one
// loaded model: each gets the single-goroutine outputs bit for bit.
func TestLoadConcurrentPredict(t *testing.T) {
	m := models.MLP(qat.Default8Bit())
	w, r := untrained(t, m)
	dir := filepath.Join(t.TempDir(), "model")
	if err := savedmodel.Export(dir, m, w, r); err != nil {
		t.Fatal(err)
	}
	loaded, err := savedmodel.Load(dir, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	data, err := data.Synthetic(2500, 784, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	want, err := loaded.Predict(data.X)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := loaded.Predict(data.X)
			if err == nil && !slices.Equal(got.Data, want.Data) {
				err = fmt.Errorf("outputs differ from the single-goroutine run")
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
}
