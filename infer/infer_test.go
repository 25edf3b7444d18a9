package infer_test

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"
	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/infer"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/internal/runtest"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
)

var oneThread = tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps}

func predictPath(t *testing.T, path string, x data.Array, batch int) data.Array {
	t.Helper()
	m, err := infer.Open(path, oneThread)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	logits, err := m.Predict(x, batch)
	if err != nil {
		t.Fatal(err)
	}
	return logits
}

// sameBits counts the values of got that differ from want in any bit.
func sameBits(t *testing.T, what string, got, want data.Array) {
	t.Helper()
	if !tfgraph.SameShape(got.Shape, want.Shape) || len(got.Data) != len(want.Data) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
	}
	differ := 0
	for i := range want.Data {
		if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
			differ++
		}
	}
	if differ > 0 {
		t.Errorf("%s: %d of %d logits differ from the reference", what, differ, len(want.Data))
	} else {
		t.Logf("%s: %d of %d logits bit-identical", what, len(want.Data), len(want.Data))
	}
}

// TestPredictRunSavedModelTF checks that a run folder's logits are its
// Evaluator's, its exported SavedModel's (in Go) and Python TensorFlow's
// tf.saved_model.load signature output, all bit for bit, and that the
// batch size does not change them.
func TestPredictRunSavedModelTF(t *testing.T) {
	dir, m, _ := runtest.Train(t, runtest.SmallCNN)
	x := runtest.Data(300, m.Input, m.Classes(), 11).X
	fromRun := predictPath(t, dir, x, infer.DefaultBatch)
	if got := fromRun.Shape; len(got) != 2 || got[0] != 300 || got[1] != 5 {
		t.Fatalf("logits shape %v, want [300 5]", got)
	}

	run, err := infer.LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := loop.NewEvaluator(run.Model, run.Weights, run.Ranges, oneThread)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ev.Predict(x)
	ev.Close()
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "run folder vs loop.Evaluator", fromRun, want)

	sm := filepath.Join(dir, "saved_model")
	if err := savedmodel.Export(sm, run.Model, run.Weights, run.Ranges); err != nil {
		t.Fatal(err)
	}
	fromSaved := predictPath(t, sm, x, infer.DefaultBatch)
	sameBits(t, "run folder vs its SavedModel", fromRun, fromSaved)

	in, out := filepath.Join(t.TempDir(), "in.npz"), filepath.Join(t.TempDir(), "out.npz")
	if err := data.WriteNPZ(in, map[string]data.Array{"x": x}); err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Run("savedmodel_check.py", sm, in, out); err != nil {
		t.Fatal(err)
	}
	py, err := data.ReadNPZ(out)
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "run folder vs Python tf.saved_model.load", fromRun, py["logits"])

	for _, batch := range []int{1, 7, 299} {
		sameBits(t, "batch size "+itoa(batch)+", run folder", predictPath(t, dir, x, batch), fromRun)
		sameBits(t, "batch size "+itoa(batch)+", SavedModel", predictPath(t, sm, x, batch), fromRun)
	}

	// What Write leaves: logits as given, classes as their argmax (int64).
	for _, o := range []infer.Output{infer.Logits, infer.ClassIDs} {
		p := filepath.Join(t.TempDir(), "preds.npz")
		if err := infer.Write(p, fromRun, o); err != nil {
			t.Fatal(err)
		}
		f, err := npz.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if keys := f.Keys(); len(keys) != 1 || keys[0] != string(o)+".npy" {
			t.Errorf("%s: keys %q, want [%s.npy]", o, keys, o)
		}
		if o == infer.ClassIDs {
			var ids []int64
			if err := f.Read(string(o)+".npy", &ids); err != nil {
				t.Fatal(err)
			}
			want, err := infer.Classes(fromRun)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("classes read back %v, want %v", ids[:5], want[:5])
			}
		} else {
			var v []float32
			if err := f.Read(string(o)+".npy", &v); err != nil {
				t.Fatal(err)
			}
			sameBits(t, "logits read back", data.Array{Shape: fromRun.Shape, Data: v}, fromRun)
		}
		f.Close()
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestClasses(t *testing.T) {
	logits := data.Array{Shape: []int64{4, 3}, Data: []float32{
		1, 2, 3,
		3, 2, 1,
		-1, 5, 5, // the first of equal maxima, as numpy.argmax
		float32(math.Inf(-1)), -7, float32(math.Inf(-1)),
	}}
	got, err := infer.Classes(logits)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{2, 0, 1, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("classes %v, want %v", got, want)
		}
	}
	bad := data.Array{Shape: []int64{2, 2}, Data: []float32{0, 1, float32(math.NaN()), 0}}
	if _, err := infer.Classes(bad); err == nil || !strings.Contains(err.Error(), "example 1") {
		t.Errorf("NaN logits: error %v, want one naming example 1", err)
	}
}

func TestPredictErrors(t *testing.T) {
	dir, m, _ := runtest.Train(t, runtest.SmallCNN)
	tmp := t.TempDir()
	noX := filepath.Join(tmp, "nox.npz")
	if err := data.WriteNPZ(noX, map[string]data.Array{"images": {Shape: []int64{1, 2}, Data: []float32{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := models.ReadX(noX, 0); err == nil || !strings.Contains(err.Error(), "no array x") || !strings.Contains(err.Error(), "images") {
		t.Errorf("npz without x: error %v, want one saying so and listing images", err)
	}
	empty := filepath.Join(tmp, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	onlyConfig := filepath.Join(tmp, "config_only")
	if err := os.Mkdir(onlyConfig, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(onlyConfig, "config.yaml"), []byte("inputs: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, want string }{
		{"missing", filepath.Join(tmp, "nothing"), "does not exist"},
		{"a file", noX, "is a file"},
		{"neither", empty, "neither a run folder"},
		{"config only", onlyConfig, "no weights.npz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := infer.Open(tc.path, oneThread); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%s): error %v, want one containing %q", tc.path, err, tc.want)
			}
		})
	}

	mod, err := infer.Open(dir, oneThread)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	good := runtest.Data(3, m.Input, m.Classes(), 1).X
	for _, tc := range []struct {
		name  string
		x     data.Array
		batch int
		want  string
	}{
		{"batch 0", good, 0, "batch size 0"},
		{"batch -3", good, -3, "batch size -3"},
		{"vector x", data.Array{Shape: []int64{2, 64}, Data: make([]float32, 128)}, 10, "x has shape [2 64], the model needs [N [8 8 1]]"},
		{"wrong channels", data.Array{Shape: []int64{1, 8, 8, 3}, Data: make([]float32, 192)}, 10, "x has shape [1 8 8 3]"},
		{"no batch axis", data.Array{Shape: []int64{8, 8, 1}, Data: make([]float32, 64)}, 10, "x has shape [8 8 1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := mod.Predict(tc.x, tc.batch); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Predict: error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := infer.ParseOutput("probs"); err == nil || !strings.Contains(err.Error(), `"logits" or "classes"`) {
		t.Errorf("ParseOutput(probs): error %v", err)
	}
}
