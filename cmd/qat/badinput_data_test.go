package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
)

// npyOf returns a .npy file (format 1.0) with the header dictionary and
// the little-endian float32 values given.
func npyOf(header string, vals ...float32) []byte {
	h := header + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	for _, v := range vals {
		binary.Write(&b, binary.LittleEndian, math.Float32bits(v))
	}
	return b.Bytes()
}

// zipEntry is one member of a zip written by writeZip; a raw entry is
// written as it is, with the sizes and CRC-32 its header declares.
type zipEntry struct {
	name string
	data []byte
	raw  *zip.FileHeader
}

func writeZip(t *testing.T, path string, entries ...zipEntry) string {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Store}
		create := w.CreateHeader
		if e.raw != nil {
			h = e.raw
			h.Name = e.name
			create = w.CreateRaw
		}
		fw, err := create(h)
		if err == nil {
			_, err = fw.Write(e.data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeArrays writes arrays with data.WriteNPZ and returns path.
func writeArrays(t *testing.T, path string, arrays map[string]data.Array) string {
	t.Helper()
	if err := data.WriteNPZ(path, arrays); err != nil {
		t.Fatal(err)
	}
	return path
}

// badFiles writes the malformed .npz files that --data, --init and eval
// --data share into dir, by name.
func badFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	x := npyOf("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 10), }", make([]float32, 20)...)
	// 1 PiB declared by a deflated member of a few bytes.
	huge := &zip.FileHeader{Method: zip.Deflate, CRC32: 1, CompressedSize64: 2, UncompressedSize64: 1 << 50}
	return map[string]string{
		"text":      writeZip(t, filepath.Join(dir, "text.npz"), zipEntry{name: "hello.txt", data: []byte("hello")}),
		"garbage":   writeZip(t, filepath.Join(dir, "garbage.npz"), zipEntry{name: "x.npy", data: []byte("garbage, not an array")}),
		"huge":      writeZip(t, filepath.Join(dir, "huge.npz"), zipEntry{name: "x.npy", data: npyOf("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 10), }", 1, 2)}),
		"1PiB":      writeZip(t, filepath.Join(dir, "pib.npz"), zipEntry{name: "x.npy", data: []byte{3, 0}, raw: huge}),
		"duplicate": writeZip(t, filepath.Join(dir, "dup.npz"), zipEntry{name: "x.npy", data: x}, zipEntry{name: "x.npy", data: x}),
		"not a zip": func() string {
			p := filepath.Join(dir, "csv.npz")
			write(t, p, "x,y\n1,2\n")
			return p
		}(),
	}
}

// TestBadDataFiles: malformed .npz files and data that are not what the
// model needs, given to train --data, train --init and eval --data, are
// one-line errors naming the file (and member, row or key), exit code 1,
// and a failed train creates no output folder.
func TestBadDataFiles(t *testing.T) {
	dir := t.TempDir()
	bad := badFiles(t, dir)
	good, err := data.Synthetic(4, 10, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	notOneHot := data.Array{Shape: []int64{4, 2}, Data: []float32{1, 0, 1, 1, 0, 1, 1, 0}}
	ds := map[string]string{
		"not one-hot": writeArrays(t, filepath.Join(dir, "onehot.npz"), map[string]data.Array{"x": good.X, "y": notOneHot}),
	}
	w := data.Array{Shape: []int64{10, 2}, Data: make([]float32, 20)}
	b := data.Array{Shape: []int64{2}, Data: []float32{0.5, -0.5}}
	init := map[string]string{
		"missing": writeArrays(t, filepath.Join(dir, "missing.npz"), map[string]data.Array{"layer1/weight_fp": w}),
		"keras":   writeArrays(t, filepath.Join(dir, "keras.npz"), map[string]data.Array{"layer1/kernel": w, "layer1/bias": b}),
		"typo":    writeArrays(t, filepath.Join(dir, "typo.npz"), map[string]data.Array{"layer1/weight_fp": w, "layer1/bias_fp": b, "layer1/bais_fp": b}),
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // stderr after "qat: "
	}{
		{"data: text member", []string{"--data", bad["text"]}, "read " + bad["text"] + `: member "hello.txt" is not a .npy array; an .npz holds only .npy members`},
		{"data: garbage member", []string{"--data", bad["garbage"]}, "read " + bad["garbage"] + `: member "x.npy": not a .npy array: it does not start with the .npy magic string`},
		{"data: shape (1e11, 10)", []string{"--data", bad["huge"]}, "read " + bad["huge"] + `: member "x.npy": header says shape (100000000000, 10) of <f4 (4000000000000 bytes) but the member holds 8 bytes of data`},
		{"data: 1 PiB compressed", []string{"--data", bad["1PiB"]}, "read " + bad["1PiB"] + `: member "x.npy" declares 1125899906842624 bytes, more than the `},
		{"data: two x.npy", []string{"--data", bad["duplicate"]}, "read " + bad["duplicate"] + `: member "x.npy" appears 2 times; numpy would read only the last`},
		{"data: not a zip", []string{"--data", bad["not a zip"]}, "read " + bad["not a zip"] + ": not an .npz file (a zip of .npy arrays, as numpy.savez writes): zip: not a valid zip file"},
		{"data: y not one-hot", []string{"--data", ds["not one-hot"]}, ds["not one-hot"] + ": data: y row 1 (counting from 0) is [1 1], not one-hot: each row needs one 1 and the rest 0"},
		{"init: garbage member", []string{"--init", bad["garbage"]}, "initial weights: read " + bad["garbage"] + `: member "x.npy": not a .npy array`},
		{"init: shape (1e11, 10)", []string{"--init", bad["huge"]}, "initial weights: read " + bad["huge"] + `: member "x.npy": header says shape (100000000000, 10)`},
		{"init: missing key", []string{"--init", init["missing"]}, init["missing"] + ": initial weights lack 1 of the model's 2 variables: layer1/bias_fp; give every variable"},
		{"init: Keras names", []string{"--init", init["keras"]}, init["keras"] + `: initial weights name "layer1/bias", which the model does not have (nor "layer1/kernel"); its variables are layer1/bias_fp, layer1/weight_fp`},
		{"init: a typo besides", []string{"--init", init["typo"]}, init["typo"] + `: initial weights name "layer1/bais_fp", which the model does not have`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.NewReplacer(" ", "-", ":", "", "/", "").Replace(tc.name))
			trainFails(t, out, tc.want, append([]string{"train", "--example", "1", "--steps", "1", "--out", out}, tc.args...)...)
		})
	}
}

// TestEvalBadData: eval --data with malformed files, labels that are not
// one-hot, inputs that make the model output NaN, and a SavedModel whose
// output has fewer rows than the batch are errors naming the file and the
// example, not a panic or an accuracy.
func TestEvalBadData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bad := badFiles(t, dir)
	_, sm := exported(t, dir, "1", "1")
	short := filepath.Join(dir, "short")
	if _, err := oracle.Run("short_output_model.py", short); err != nil {
		t.Fatal(err)
	}
	good, err := data.Synthetic(5, 10, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	notOneHot := data.Array{Shape: []int64{5, 2}, Data: []float32{1, 0, 0, 1, 0, 0, 1, 0, 0, 1}}
	nanX := data.Array{Shape: good.X.Shape, Data: append([]float32(nil), good.X.Data...)}
	nanX.Data[31] = float32(math.NaN())
	fewer := data.Array{Shape: []int64{4, 2}, Data: good.Y.Data[:8]}
	data := map[string]string{
		"good":        writeArrays(t, filepath.Join(dir, "good.npz"), map[string]data.Array{"x": good.X, "y": good.Y}),
		"not one-hot": writeArrays(t, filepath.Join(dir, "onehot.npz"), map[string]data.Array{"x": good.X, "y": notOneHot}),
		"NaN x":       writeArrays(t, filepath.Join(dir, "nanx.npz"), map[string]data.Array{"x": nanX, "y": good.Y}),
		"fewer y":     writeArrays(t, filepath.Join(dir, "fewer.npz"), map[string]data.Array{"x": good.X, "y": fewer}),
	}
	if code, stdout, stderr := qat(t, ctx, "eval", "--saved-model", sm, "--data", data["good"]); code != 0 || !strings.Contains(stdout, "on 5 examples") {
		t.Fatalf("eval of good data: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, tc := range []struct {
		name      string
		model     string
		data      string
		want      string
		wantStart bool // the error starts "qat: " + want
	}{
		{"text member", sm, bad["text"], "read " + bad["text"] + `: member "hello.txt" is not a .npy array`, true},
		{"garbage member", sm, bad["garbage"], "read " + bad["garbage"] + `: member "x.npy": not a .npy array`, true},
		{"shape (1e11, 10)", sm, bad["huge"], "read " + bad["huge"] + `: member "x.npy": header says shape (100000000000, 10) of <f4 (4000000000000 bytes)`, true},
		{"1 PiB compressed", sm, bad["1PiB"], "read " + bad["1PiB"] + `: member "x.npy" declares 1125899906842624 bytes, more than the `, true},
		{"two x.npy", sm, bad["duplicate"], "read " + bad["duplicate"] + `: member "x.npy" appears 2 times`, true},
		{"y not one-hot", sm, data["not one-hot"], data["not one-hot"] + ": accuracy: data: y row 2 (counting from 0) is [0 0], not one-hot", true},
		{"NaN logits", sm, data["NaN x"], data["NaN x"] + ": accuracy: the output of example 3 (counting from 0) is NaN at class 0; the model computes NaN or infinity", true},
		{"fewer labels than examples", sm, data["fewer y"], data["fewer y"] + ": accuracy: outputs [5 2] and labels [4 2] must both be [N, classes]", true},
		{"output with one row for five", short, data["good"], "savedmodel: predict: examples 0..5: the output has shape [1 2]; want 5 rows, one per example", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := qat(t, ctx, "eval", "--saved-model", tc.model, "--data", tc.data)
			ok := strings.HasPrefix(stderr, "qat: "+tc.want)
			if !tc.wantStart {
				ok = strings.HasPrefix(stderr, "qat: ") && strings.Contains(stderr, tc.want)
			}
			if code != 1 || !ok || strings.Count(stderr, "\n") != 1 || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit 1 and one line with %q", code, stdout, stderr, tc.want)
			}
		})
	}
}

// TestExportBadRanges: a ranges.npz whose quantizer has min > max or a
// non-finite end is an error naming the quantizer, and no SavedModel is
// written.
func TestExportBadRanges(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "q.yaml")
	write(t, cfg, "inputs: 10\nsteps: 1\ndata: {examples: 8}\nscheme: {default: {weight_bits: 8, activation_bits: 8}}\n"+
		"layers: [{type: dense, name: d, units: 2}]\n")
	run := filepath.Join(dir, "run")
	if code, _, stderr := qat(t, ctx, "train", "--config", cfg, "--out", run); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	rp := filepath.Join(run, "ranges.npz")
	ranges, err := data.ReadNPZ(rp)
	if err != nil {
		t.Fatal(err)
	}
	var q string // a per-tensor quantizer
	for _, n := range data.Weights(ranges).Names() {
		if name, ok := strings.CutSuffix(n, "_min"); ok && len(ranges[n].Shape) == 0 && q == "" {
			q = name
		}
	}
	if q == "" {
		t.Fatalf("no per-tensor quantizer range among %v", data.Weights(ranges).Names())
	}
	for _, tc := range []struct {
		name     string
		min, max float32
		want     string
	}{
		{"min > max", 2, -2, "ranges: quantizer " + q + " has min 2 > max -2"},
		{"NaN max", -1, float32(math.NaN()), "ranges: quantizer " + q + " has range [-1, NaN]; want finite values"},
		{"infinite min", float32(math.Inf(-1)), 1, "ranges: quantizer " + q + " has range [-Inf, 1]; want finite values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := map[string]data.Array{}
			for k, v := range ranges {
				r[k] = v
			}
			r[q+"_min"] = data.Array{Shape: []int64{}, Data: []float32{tc.min}}
			r[q+"_max"] = data.Array{Shape: []int64{}, Data: []float32{tc.max}}
			writeArrays(t, rp, r)
			out := filepath.Join(dir, "sm-"+strings.ReplaceAll(tc.name, " ", "-"))
			code, stdout, stderr := qat(t, ctx, "export", "--from", run, "--out", out)
			if code != 1 || !strings.HasPrefix(stderr, "qat: ") || !strings.Contains(stderr, tc.want) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit 1 and an error containing %q", code, stdout, stderr, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s was written", out)
			}
		})
	}
}
