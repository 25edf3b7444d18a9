package savedmodel_test

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/models/mnist"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/savedmodel"
	tf "github.com/wamuir/graft/tensorflow"
)

// trained trains m on MNIST for a few steps and returns the trainer and
// the first n test images (flattened for vector models).
func trained(t *testing.T, m models.Model, steps, n int) (*loop.Trainer, models.Array) {
	t.Helper()
	train, test, err := mnist.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Input) == 1 {
		train.X.Shape = []int64{train.X.Shape[0], m.Input[0]}
		test.X.Shape = []int64{test.X.Shape[0], m.Input[0]}
	}
	cfg := loop.DefaultConfig()
	cfg.Adam.LearningRate = 1e-3
	cfg.BatchSize = 32
	tr, err := loop.NewTrainer(m, train, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	for i := 0; i < steps; i++ {
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := test.Slice(0, n)
	if err != nil {
		t.Fatal(err)
	}
	return tr, sub.X
}

// goPredict loads dir with graft's LoadSavedModel and runs serving_default.
func goPredict(t *testing.T, dir string, x models.Array) []float32 {
	t.Helper()
	sm, err := tf.LoadSavedModel(dir, []string{savedmodel.Tag}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Session.Close()
	sig, ok := sm.Signatures[savedmodel.Signature]
	if !ok {
		t.Fatalf("no %s signature", savedmodel.Signature)
	}
	xt, err := tf.NewTensor(x.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := xt.Reshape(x.Shape); err != nil {
		t.Fatal(err)
	}
	in := sm.Graph.Operation(strings.Split(sig.Inputs[savedmodel.InputName].Name, ":")[0])
	out := sm.Graph.Operation(strings.Split(sig.Outputs[savedmodel.OutputName].Name, ":")[0])
	res, err := sm.Session.Run(map[tf.Output]*tf.Tensor{in.Output(0): xt}, []tf.Output{out.Output(0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var flat []float32
	for _, row := range res[0].Value().([][]float32) {
		flat = append(flat, row...)
	}
	return flat
}

func sameBits(a, b []float32) (same int, worst float64) {
	for i := range a {
		if math.Float32bits(a[i]) == math.Float32bits(b[i]) {
			same++
		}
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return same, worst
}

// TestExportLoads trains models briefly, exports them, and checks that
// Go's LoadSavedModel and Python's tf.saved_model.load both give, on 1,000
// MNIST test images, the training graph's inference outputs bit for bit,
// and that saved_model_cli can describe the folder.
func TestExportLoads(t *testing.T) {
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
			tr, x := trained(t, c.model, 20, 1000)
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
			dir := filepath.Join(t.TempDir(), "model")
			if err := savedmodel.Export(dir, c.model, w, r); err != nil {
				t.Fatal(err)
			}

			got := goPredict(t, dir, x)
			if same, worst := sameBits(got, want.Data); same != len(want.Data) {
				t.Errorf("Go LoadSavedModel: %d of %d outputs bit-identical (max |diff| %.3g)", same, len(want.Data), worst)
			} else {
				t.Logf("Go LoadSavedModel: %d of %d outputs bit-identical", same, len(want.Data))
			}

			in, out := filepath.Join(t.TempDir(), "x.npz"), filepath.Join(t.TempDir(), "y.npz")
			if err := models.WriteNPZ(in, map[string]models.Array{"x": x}); err != nil {
				t.Fatal(err)
			}
			if _, err := oracle.Run("savedmodel_check.py", dir, in, out); err != nil {
				t.Fatal(err)
			}
			py, err := models.ReadNPZ(out)
			if err != nil {
				t.Fatal(err)
			}
			if same, worst := sameBits(py["logits"].Data, want.Data); same != len(want.Data) {
				t.Errorf("Python tf.saved_model.load: %d of %d outputs bit-identical (max |diff| %.3g)", same, len(want.Data), worst)
			} else {
				t.Logf("Python tf.saved_model.load: %d of %d outputs bit-identical", same, len(want.Data))
			}

			cli := filepath.Join(filepath.Dir(pythonPath(t)), "saved_model_cli")
			outText, err := exec.Command(cli, "show", "--all", "--dir", dir).CombinedOutput()
			if err != nil {
				t.Fatalf("saved_model_cli show --all: %v\n%s", err, outText)
			}
			for _, s := range []string{"signature_def['serving_default']", "inputs['x']", "outputs['logits']", "DT_FLOAT"} {
				if !strings.Contains(string(outText), s) {
					t.Errorf("saved_model_cli output lacks %q:\n%s", s, outText)
				}
			}
		})
	}
}

func pythonPath(t *testing.T) string {
	t.Helper()
	p, err := oracle.Python()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExportErrors checks that an existing folder, a read-only parent and
// a missing value are errors that leave nothing behind.
func TestExportErrors(t *testing.T) {
	m := models.MLP(qat.Default8Bit())
	init, err := m.InitialWeights(nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	ranges := models.Weights{}
	for _, n := range []string{"quantize_layer/quantize_layer", "d1/kernel", "d1/post_activation", "d2/kernel", "d2/post_activation"} {
		ranges[n+"_min"] = models.Array{Shape: []int64{}, Data: []float32{-1}}
		ranges[n+"_max"] = models.Array{Shape: []int64{}, Data: []float32{1}}
	}
	base := t.TempDir()
	exists := filepath.Join(base, "exists")
	if err := os.Mkdir(exists, 0o755); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(base, "ro")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(base, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	noKernel := models.Weights{}
	for k, v := range init {
		if k != "d2/kernel" {
			noKernel[k] = v
		}
	}
	noRange := models.Weights{}
	for k, v := range ranges {
		if k != "d1/post_activation_max" {
			noRange[k] = v
		}
	}
	cases := []struct {
		name            string
		dir             string
		weights, ranges models.Weights
		want            string
	}{
		{"folder exists", exists, init, ranges, "export folder " + exists + " already exists"},
		{"missing weight", filepath.Join(base, "a"), noKernel, ranges, "no value for variable d2/kernel"},
		{"missing range", filepath.Join(base, "b"), init, noRange, "no value for quantizer range d1/post_activation_max"},
		{"parent is a file", filepath.Join(notDir, "m"), init, ranges, "cannot write " + filepath.Join(notDir, "m")},
	}
	if f, err := os.CreateTemp(readOnly, "probe"); err == nil { // root ignores permissions
		f.Close()
		os.Remove(f.Name())
		t.Log("running as root, which may write to a 0555 folder: the read-only case is covered by the parent-is-a-file case")
	} else {
		cases = append(cases, struct {
			name            string
			dir             string
			weights, ranges models.Weights
			want            string
		}{"read-only parent", filepath.Join(readOnly, "m"), init, ranges, "cannot write beside " + filepath.Join(readOnly, "m")})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := savedmodel.Export(c.dir, m, c.weights, c.ranges)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			entries, _ := os.ReadDir(filepath.Dir(c.dir))
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp-") || (e.Name() == filepath.Base(c.dir) && c.dir != exists) {
					t.Errorf("left behind %s", e.Name())
				}
			}
		})
	}
}
