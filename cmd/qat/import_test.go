package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
)

// kerasModels saves the reference script's models names into a temporary
// folder and returns it.
func kerasModels(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := oracle.Run("keras_import_models.py", append([]string{dir}, names...)...); err != nil {
		t.Fatal(err)
	}
	return dir
}

// importKeras runs qat import on model into a new folder and returns it.
func importKeras(t *testing.T, model string, flags ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "imported")
	code, stdout, stderr := qat(t, context.Background(), append([]string{"import", model, "--out", out}, flags...)...)
	if code != 0 {
		t.Fatalf("import %s: exit %d\n%s%s", model, code, stdout, stderr)
	}
	return out
}

// goLogits runs the imported float model in Go on x (one thread).
func goLogits(t *testing.T, dir string, x data.Array) data.Array {
	t.Helper()
	cfg, err := models.LoadConfig(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Model()
	if err != nil {
		t.Fatal(err)
	}
	w, err := cfg.InitialWeights() // the config's init: weights.npz
	if err != nil {
		t.Fatal(err)
	}
	ev, err := loop.NewEvaluator(m, w, nil, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1, Numerics: tfgraph.EagerNumerics})
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	logits, err := ev.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	return logits
}

// bitsDiffer compares logits with Keras's, returning how many differ in
// any bit and the largest difference relative to the largest |logit|.
func bitsDiffer(got, want data.Array) (differ int, rel float64) {
	var diff, scale float64
	for i := range want.Data {
		if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
			differ++
		}
		diff = math.Max(diff, math.Abs(float64(got.Data[i])-float64(want.Data[i])))
		scale = math.Max(scale, math.Abs(float64(want.Data[i])))
	}
	return differ, diff / scale
}

// TestImportKerasLogits imports Keras float models (Sequential: conv,
// batch norm, pooling, depthwise, dense; Functional: also zero padding, a
// residual add, concatenations, global pooling, dropout, reshape; Keras 3
// .keras and .h5, tf_keras .h5 and SavedModel) and checks that Go's float logits of the imported config and
// weights are Keras's model(x, training=False) logits, bit for bit. tf_keras
// runs inference batch norm on 4-D inputs fused ((x - mean) * inv + beta),
// Keras 3 as x * inv + (beta - mean * inv): the import keeps each one's
// path (fused: false for Keras 3's batch norms).
func TestImportKerasLogits(t *testing.T) {
	dir := kerasModels(t, "seq", "func", "legacy")
	for _, tc := range []struct{ file, ref, keras string }{
		{"seq.keras", "seq", "keras 3"},
		{"seq.h5", "seq", "keras 3"},
		{"func.keras", "func", "keras 3"},
		{"func.h5", "func", "keras 3"},
		{"legacy.h5", "legacy", "tf_keras"},
		{"legacy_sm", "legacy", "tf_keras"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out := importKeras(t, filepath.Join(dir, tc.file))
			yml, err := os.ReadFile(filepath.Join(out, "config.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(yml), "("+tc.keras) {
				t.Errorf("config.yaml does not say it was read with %s:\n%s", tc.keras, yml)
			}
			ref, err := data.ReadNPZ(filepath.Join(dir, tc.ref+".npz"))
			if err != nil {
				t.Fatal(err)
			}
			got, want := goLogits(t, out, ref["x"]), ref["logits"]
			if !reflect.DeepEqual(got.Shape, want.Shape) {
				t.Fatalf("logits shape %v, Keras %v", got.Shape, want.Shape)
			}
			differ, rel := bitsDiffer(got, want)
			t.Logf("%s: %d of %d logits differ from Keras's, by at most %.2g (relative)", tc.file, differ, len(want.Data), rel)
			if unfused, ok := ref["logits_unfused"]; ok {
				d, r := bitsDiffer(got, unfused)
				t.Logf("%s: %d of %d logits differ from tf_keras's with its batch norms forced non-fused, by at most %.2g", tc.file, d, len(want.Data), r)
			}
			if differ != 0 {
				t.Errorf("%d of %d logits differ from Keras's (by up to %.2g)", differ, len(want.Data), rel)
			}
		})
	}
}

// TestImportKerasThenTrain fine-tunes an imported model with 8-bit QAT:
// qat train starts from the Keras weights and runs its steps.
func TestImportKerasThenTrain(t *testing.T) {
	dir := kerasModels(t, "seq")
	out := importKeras(t, filepath.Join(dir, "seq.keras"), "--qat8")
	ref, err := data.ReadNPZ(filepath.Join(dir, "seq.npz"))
	if err != nil {
		t.Fatal(err)
	}
	// 64 examples: the 8 inputs 8 times, labelled with Keras's argmax.
	x, logits := ref["x"], ref["logits"]
	n, classes := int(logits.Shape[0]), int(logits.Shape[1])
	const copies = 8
	xs := data.Array{Shape: append([]int64{int64(n * copies)}, x.Shape[1:]...)}
	y := data.Array{Shape: []int64{int64(n * copies), int64(classes)}, Data: make([]float32, n*copies*classes)}
	for c := 0; c < copies; c++ {
		xs.Data = append(xs.Data, x.Data...)
		for i := 0; i < n; i++ {
			best := 0
			for j := range classes {
				if logits.Data[i*classes+j] > logits.Data[i*classes+best] {
					best = j
				}
			}
			y.Data[(c*n+i)*classes+best] = 1
		}
	}
	x = xs
	dataPath := filepath.Join(t.TempDir(), "data.npz")
	if err := data.WriteNPZ(dataPath, map[string]data.Array{"x": x, "y": y}); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := qat(t, context.Background(), "train", "--config", filepath.Join(out, "config.yaml"),
		"--data", dataPath, "--steps", "4", "--out", run)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, stdout, stderr)
	}
	losses := readLosses(t, filepath.Join(run, "losses.csv"))
	if len(losses) != 4 {
		t.Fatalf("%d losses, want 4", len(losses))
	}
	for i, l := range losses {
		if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) || l <= 0 {
			t.Errorf("step %d: loss %v", i+1, l)
		}
	}
	imported, err := data.ReadNPZ(filepath.Join(out, "weights.npz"))
	if err != nil {
		t.Fatal(err)
	}
	init, err := data.ReadNPZ(filepath.Join(run, "initial_weights.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(init, imported) {
		t.Errorf("the run did not start from the imported weights")
	}
	ranges, err := data.ReadNPZ(filepath.Join(run, "ranges.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ranges) == 0 {
		t.Errorf("ranges.npz is empty: the run was not quantized")
	}
	t.Logf("QAT fine-tuning losses %v", losses)
}

// TestImportKerasErrors: every unsupported model or bad input is one line
// naming the layer and setting (or the file), and writes nothing.
func TestImportKerasErrors(t *testing.T) {
	dir := kerasModels(t, "bad_lstm", "bad_dilation", "bad_groups", "bad_center", "bad_channels_first", "bad_leaky")
	write(t, filepath.Join(dir, "text.keras"), "not a zip")
	write(t, filepath.Join(dir, "text.h5"), "not hdf5")
	write(t, filepath.Join(dir, "model.onnx"), "x")
	write(t, filepath.Join(dir, "zip.keras"), "PK\x05\x06"+strings.Repeat("\x00", 18)) // an empty zip
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ model, want string }{
		{"bad_lstm.keras", `layer "lstm_1" (LSTM) is not supported; supported: InputLayer, Activation, Add, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, Dense, DepthwiseConv2D, Dropout, Flatten, GlobalAveragePooling2D, MaxPooling2D, ReLU, Reshape, Softmax, ZeroPadding2D`},
		{"bad_dilation.keras", `layer "c" (Conv2D): dilation_rate [2, 2] is not supported (qat supports [1, 1] only)`},
		{"bad_groups.keras", `layer "c" (Conv2D): groups 2 is not supported`},
		{"bad_center.keras", `layer "bn" (BatchNormalization): center False is not supported`},
		{"bad_channels_first.keras", `layer "c" (Conv2D): data_format "channels_first" is not supported`},
		{"bad_leaky.keras", `layer "d1" (Dense): activation "leaky_relu" is not supported`},
		{"missing.keras", "no such file or directory"},
		{"text.keras", "is not a .keras file (not a zip archive)"},
		{"text.h5", "is not an HDF5 file"},
		{"model.onnx", "want a .keras file, an .h5 file or a SavedModel folder"},
		{"zip.keras", "cannot load " + filepath.Join(dir, "zip.keras") + " as a Keras model (Keras 3: "},
		{"empty", "is a folder without saved_model.pb: not a SavedModel"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := qat(t, context.Background(), "import", filepath.Join(dir, tc.model), "--out", out)
			if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "qat: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit 1 and one line with %q", code, stdout, stderr, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s was created by a failed import", out)
			}
		})
	}
}
