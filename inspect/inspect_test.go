package inspect_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/infer"
	"github.com/qat-go/qat/inspect"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/internal/runtest"
	"github.com/qat-go/qat/savedmodel"
)

func mustInspect(t *testing.T, path string) *inspect.Report {
	t.Helper()
	r, err := inspect.Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestInspectQuantizersTF checks each quantizer's settings and that its
// nudged range, scale and zero point are TensorFlow's: the FakeQuant
// kernel's formula computed in float32 by the Python oracle, which checks
// them against tf.quantization.fake_quant_with_min_max_vars(_per_channel)
// itself. Two ranges are moved first so that the grid's edge cases are
// met: one above zero (zero point clamped to quant_min) and one below it.
func TestInspectQuantizersTF(t *testing.T) {
	dir, _, _ := runtest.Train(t, runtest.SmallCNN)
	ranges, err := data.ReadNPZ(filepath.Join(dir, infer.RangesFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]float32{"fc/post_activation_min": 0.5, "fc/post_activation_max": 2, "relu1/post_activation_min": -3, "relu1/post_activation_max": -1} {
		ranges[name] = data.Array{Shape: []int64{}, Data: []float32{v}}
	}
	if err := data.WriteNPZ(filepath.Join(dir, infer.RangesFile), ranges); err != nil {
		t.Fatal(err)
	}
	r := mustInspect(t, dir)

	type want struct {
		name, kind                    string
		bits, channels                int
		narrow, perChannel, symmetric bool
	}
	wants := []want{
		{"quantize_layer/quantize_layer", "input", 8, 1, false, false, false},
		{"conv1/kernel", "weights", 8, 4, true, true, true},
		{"relu1/post_activation", "activations", 8, 1, false, false, false},
		{"fc/kernel", "weights", 4, 1, false, false, false},
		{"fc/post_activation", "activations", 8, 1, false, false, false},
	}
	if len(r.Quantizers) != len(wants) {
		t.Fatalf("%d quantizers, want %d: %+v", len(r.Quantizers), len(wants), r.Quantizers)
	}
	type tfCase struct {
		Min    []float32 `json:"min"`
		Max    []float32 `json:"max"`
		Bits   int       `json:"bits"`
		Narrow bool      `json:"narrow"`
	}
	var cases []tfCase
	for i, w := range wants {
		q := r.Quantizers[i]
		got := want{q.Name, q.Kind, q.Bits, q.Channels, q.NarrowRange, q.PerChannel, q.Symmetric}
		if got != w {
			t.Errorf("quantizer %d: %+v, want %+v", i, got, w)
		}
		lo, hi := ranges[q.Name+"_min"].Data, ranges[q.Name+"_max"].Data
		if !reflect.DeepEqual(q.Min, lo) || !reflect.DeepEqual(q.Max, hi) {
			t.Errorf("%s: range %v..%v, ranges.npz has %v..%v", q.Name, q.Min, q.Max, lo, hi)
		}
		cases = append(cases, tfCase{q.Min, q.Max, q.Bits, q.NarrowRange})
	}
	in := filepath.Join(t.TempDir(), "cases.json")
	b, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := oracle.Run("fake_quant_grid.py", in)
	if err != nil {
		t.Fatal(err)
	}
	var tf []struct {
		NudgedMin []float64 `json:"nudged_min"`
		NudgedMax []float64 `json:"nudged_max"`
		Scale     []float64 `json:"scale"`
		ZeroPoint []int64   `json:"zero_point"`
		QuantMin  int64     `json:"quant_min"`
		QuantMax  int64     `json:"quant_max"`
	}
	if err := json.Unmarshal(out, &tf); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	values, zeros := 0, 0
	for i, q := range r.Quantizers {
		zeros += len(q.ZeroPoint)
		w := tf[i]
		if q.QuantMin != w.QuantMin || q.QuantMax != w.QuantMax || !reflect.DeepEqual(q.ZeroPoint, w.ZeroPoint) {
			t.Errorf("%s: grid %d..%d zero point %v, TF: %d..%d zero point %v", q.Name, q.QuantMin, q.QuantMax, q.ZeroPoint, w.QuantMin, w.QuantMax, w.ZeroPoint)
		}
		for c := range q.Scale {
			for _, v := range []struct {
				what string
				got  float32
				want float64
			}{{"nudged min", q.NudgedMin[c], w.NudgedMin[c]}, {"nudged max", q.NudgedMax[c], w.NudgedMax[c]}, {"scale", q.Scale[c], w.Scale[c]}} {
				values++
				if math.Float32bits(v.got) != math.Float32bits(float32(v.want)) {
					t.Errorf("%s channel %d: %s %v, TF %v", q.Name, c, v.what, v.got, float32(v.want))
				}
			}
		}
	}
	t.Logf("%d nudged bounds and scales bit-identical to TF's, %d zero points equal", values, zeros)
	if zp := r.Quantizers[4].ZeroPoint[0]; zp != 0 {
		t.Errorf("range [0.5, 2]: zero point %d, want 0 (clamped to the grid)", zp)
	}
	if zp := r.Quantizers[2].ZeroPoint[0]; zp != 255 {
		t.Errorf("range [-3, -1]: zero point %d, want 255 (clamped to the grid)", zp)
	}
}

// TestInspectRunAndSavedModel inspects a run and its export: the same
// layers (parameters, shapes), quantizers and op counts, apart from the
// SavedModel's output Identity; and the same report twice.
func TestInspectRunAndSavedModel(t *testing.T) {
	dir, m, _ := runtest.Train(t, runtest.SmallCNN)
	run, err := infer.LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	sm := filepath.Join(dir, "saved_model")
	if err := savedmodel.Export(sm, m, run.Weights, run.Ranges); err != nil {
		t.Fatal(err)
	}
	fromRun, fromSaved := mustInspect(t, dir), mustInspect(t, sm)

	var weights int64
	for _, a := range run.Weights {
		weights += int64(len(a.Data))
	}
	if fromRun.Parameters != weights || fromSaved.Parameters != weights {
		t.Errorf("parameters: run %d, SavedModel %d; weights.npz holds %d values", fromRun.Parameters, fromSaved.Parameters, weights)
	}
	wantLayers := []inspect.Layer{
		{Name: "conv1", Type: "conv2d", Output: []int64{6, 6, 4}, Parameters: 36},
		{Name: "bn1", Type: "batch_norm", Output: []int64{6, 6, 4}, Parameters: 16},
		{Name: "relu1", Type: "relu", Output: []int64{6, 6, 4}},
		{Name: "pool1", Type: "max_pool", Output: []int64{3, 3, 4}},
		{Name: "flat", Type: "flatten", Output: []int64{36}},
		{Name: "fc", Type: "dense", Output: []int64{5}, Parameters: 185},
	}
	if !reflect.DeepEqual(fromRun.Layers, wantLayers) {
		t.Errorf("run layers %+v, want %+v", fromRun.Layers, wantLayers)
	}
	savedTypes := []string{"FakeQuantWithMinMaxVars", "Conv2D", "FusedBatchNormV3", "Relu", "MaxPool", "Reshape", "MatMul"}
	if len(fromSaved.Layers) != len(savedTypes) || fromSaved.Layers[0].Name != "quantize_layer" {
		t.Fatalf("SavedModel layers %+v: want quantize_layer and the run's", fromSaved.Layers)
	}
	for i, l := range fromSaved.Layers[1:] {
		w := wantLayers[i]
		w.Type = savedTypes[i+1]
		if !reflect.DeepEqual(l, w) {
			t.Errorf("SavedModel layer %+v, want %+v", l, w)
		}
	}
	if !reflect.DeepEqual(fromRun.Quantizers, fromSaved.Quantizers) {
		t.Errorf("quantizers differ:\nrun   %+v\nsaved %+v", fromRun.Quantizers, fromSaved.Quantizers)
	}
	if !reflect.DeepEqual(fromRun.Input, []int64{8, 8, 1}) || !reflect.DeepEqual(fromSaved.Output, []int64{5}) || !reflect.DeepEqual(fromRun.Output, []int64{5}) {
		t.Errorf("input %v, outputs %v and %v", fromRun.Input, fromRun.Output, fromSaved.Output)
	}

	// Op counts: the saved graph is the run's inference graph plus the
	// Identity named logits; one FakeQuant op per quantizer; a VarHandleOp
	// and ReadVariableOp per model variable and range.
	want := map[string]int{}
	for k, v := range fromRun.Ops.Counts {
		want[k] = v
	}
	want["Identity"]++
	if !reflect.DeepEqual(fromSaved.Ops.Counts, want) {
		t.Errorf("SavedModel op counts %v, want the run's plus one Identity: %v", fromSaved.Ops.Counts, want)
	}
	c := fromRun.Ops.Counts
	vars := len(run.Weights) + len(run.Ranges)
	for op, n := range map[string]int{"FakeQuantWithMinMaxVars": 4, "FakeQuantWithMinMaxVarsPerChannel": 1, "Conv2D": 1,
		"MatMul": 1, "FusedBatchNormV3": 1, "VarHandleOp": vars, "ReadVariableOp": vars, "Placeholder": 1} {
		if c[op] != n {
			t.Errorf("%s: %d ops, want %d", op, c[op], n)
		}
	}
	total := 0
	for _, n := range c {
		total += n
	}
	if total != fromRun.Ops.Total || fromRun.Ops.Nodes <= total || fromSaved.Ops.Nodes <= fromSaved.Ops.Total {
		t.Errorf("totals: run %d of %d nodes (sum %d), SavedModel %d of %d", fromRun.Ops.Total, fromRun.Ops.Nodes, total, fromSaved.Ops.Total, fromSaved.Ops.Nodes)
	}
	t.Logf("run: %d ops of %d nodes; SavedModel: %d of %d; %v", fromRun.Ops.Total, fromRun.Ops.Nodes, fromSaved.Ops.Total, fromSaved.Ops.Nodes, c)

	for _, p := range []string{dir, sm} {
		a, _ := json.Marshal(mustInspect(t, p))
		b, _ := json.Marshal(mustInspect(t, p))
		if string(a) != string(b) {
			t.Errorf("%s: two reports differ", p)
		}
	}
}

func TestInspectErrors(t *testing.T) {
	dir, _, _ := runtest.Train(t, runtest.SmallCNN)
	tmp := t.TempDir()
	empty := filepath.Join(tmp, "empty")
	noRanges := filepath.Join(tmp, "no_ranges")
	for _, d := range []string{empty, noRanges} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{infer.ConfigFile, infer.WeightsFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(noRanges, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ name, path, want string }{
		{"missing folder", filepath.Join(tmp, "nothing"), "does not exist"},
		{"a file", filepath.Join(dir, infer.WeightsFile), "is a file"},
		{"neither", empty, "neither a run folder (no config.yaml, weights.npz) nor a SavedModel (no saved_model.pb)"},
		{"quantized run without ranges.npz", noRanges, "ranges have no value for quantizer range quantize_layer/quantize_layer_min"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := inspect.Inspect(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Inspect(%s): error %v, want one containing %q", tc.path, err, tc.want)
			}
		})
	}
}
