package main

import (
	"archive/zip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
)

// writeUint8NPZ writes x as uint8 [n, 4] and y as int64 class ids [n].
func writeUint8NPZ(t *testing.T, path string, x []byte, ids []int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	z := zip.NewWriter(f)
	member := func(name, descr, shape string, raw []byte) {
		w, err := z.Create(name + ".npy")
		if err != nil {
			t.Fatal(err)
		}
		h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
		for (10+len(h)+1)%64 != 0 {
			h += " "
		}
		h += "\n"
		w.Write(append([]byte{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, byte(len(h)), byte(len(h) >> 8)}, h...))
		w.Write(raw)
	}
	member("x", "|u1", fmt.Sprintf("(%d, 4)", len(ids)), x)
	raw := make([]byte, 8*len(ids))
	for i, v := range ids {
		raw[8*i] = byte(v)
	}
	member("y", "<i8", fmt.Sprintf("(%d,)", len(ids)), raw)
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// qat train with sparse labels end to end (in shuffled batches of 8 of
// 12 examples): class ids as floats, as int64 beside uint8 images with
// --scale, and the bad inputs.
func TestTrainSparseLabels(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sparse.yaml")
	if err := os.WriteFile(cfg, []byte("inputs: 4\nsteps: 5\nbatch_size: 8\nloss: {name: sparse_categorical_crossentropy}\n"+
		"layers:\n  - {type: dense, name: d1, units: 8, activation: relu}\n  - {type: dense, name: d2, units: 3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 12
	x, ids, u8 := make([]float32, 4*n), make([]float32, n), make([]byte, 4*n)
	i64 := make([]int64, n)
	for i := range x {
		x[i] = float32(i%7) - 3
		u8[i] = byte(i * 5)
	}
	for i := range ids {
		ids[i], i64[i] = float32(i%3), int64(i%3)
	}
	sparse := filepath.Join(dir, "sparse.npz")
	if err := data.WriteNPZ(sparse, map[string]data.Array{"x": {Shape: []int64{n, 4}, Data: x}, "y": {Shape: []int64{n}, Data: ids}}); err != nil {
		t.Fatal(err)
	}
	images := filepath.Join(dir, "images.npz")
	writeUint8NPZ(t, images, u8, i64)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		args []string
	}{
		{"float ids", []string{"--data", sparse}},
		{"uint8 x, int64 ids", []string{"--data", images, "--scale", "1/255"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
			code, stdout, stderr := qat(t, ctx, append([]string{"train", "--config", cfg, "--out", out}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "loss: sparse_categorical_crossentropy") {
				t.Errorf("stdout %q does not name the loss", stdout)
			}
			losses := readLosses(t, filepath.Join(out, "losses.csv"))
			if len(losses) != 5 {
				t.Fatalf("losses %v: want 5", losses)
			}
			for _, l := range losses { // a loss of 3 classes starts near log 3
				if !(l > 0 && l < 10) {
					t.Errorf("losses %v: want each in (0, 10)", losses)
				}
			}
		})
	}
	// qat predict on the uint8 images with --scale gives the logits of
	// the same images scaled beforehand (float32(b) * float32(1/255)).
	scaled := make([]float32, len(u8))
	for i, b := range u8 {
		scaled[i] = float32(b) * float32(1.0/255)
	}
	pre := filepath.Join(dir, "scaled.npz")
	if err := data.WriteNPZ(pre, map[string]data.Array{"x": {Shape: []int64{n, 4}, Data: scaled}}); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "uint8_x,_int64_ids")
	_, want, stderr := qat(t, ctx, "predict", "--model", run, "--data", pre)
	code, got, stderr2 := qat(t, ctx, "predict", "--model", run, "--data", images, "--scale", "1/255")
	if code != 0 || got != want || len(strings.Split(strings.TrimSpace(got), "\n")) != n {
		t.Errorf("predict --scale 1/255 (exit %d, %s):\n%s\nwant the pre-scaled logits (%s):\n%s", code, stderr2, got, stderr, want)
	}
	if code, _, stderr := qat(t, ctx, "predict", "--model", run, "--data", images); code == 0 || !strings.Contains(stderr, "x is uint8; set data.scale") {
		t.Errorf("predict on uint8 x without --scale: exit %d, %s", code, stderr)
	}

	bad := make([]float32, n)
	copy(bad, ids)
	bad[7] = 3
	badPath := filepath.Join(dir, "bad.npz")
	if err := data.WriteNPZ(badPath, map[string]data.Array{"x": {Shape: []int64{n, 4}, Data: x}, "y": {Shape: []int64{n}, Data: bad}}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bad")
	trainFails(t, out, badPath+": data: y row 7 (counting from 0) is 3; class ids must be integers in [0, 3)", "train", "--config", cfg, "--data", badPath, "--out", out)
	trainFails(t, out, images+": x is uint8; set data.scale (qat train, eval and predict: --scale), e.g. 1/255", "train", "--config", cfg, "--data", images, "--out", out)
	trainFails(t, out, `--scale: scale "zero"`, "train", "--config", cfg, "--data", images, "--scale", "zero", "--out", out)
	cat := filepath.Join(dir, "categorical.yaml")
	if err := os.WriteFile(cat, []byte("inputs: 4\nsteps: 5\nlayers: [{type: dense, name: d, units: 3}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	trainFails(t, out, sparse+": data: y has shape [12], the model needs [N, 3] (one-hot)", "train", "--config", cat, "--data", sparse, "--out", out)
}

// With the sparse loss, MNIST's labels are class ids [N]: the one-hot
// rows' argmax.
func TestMNISTAsClassIDs(t *testing.T) {
	cfg, err := models.ParseConfig(strings.NewReader("input: [28, 28, 1]\ndata: {mnist: true}\nloss: {name: sparse_categorical_crossentropy}\n" +
		"layers: [{type: flatten, name: f}, {type: dense, name: d, units: 10}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Model()
	if err != nil {
		t.Fatal(err)
	}
	tr, te, err := datasets(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	oneHot, _, err := mnistFor(m.Input)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Y.Shape) != 1 || tr.Y.Shape[0] != 60000 || len(te.Y.Shape) != 1 || te.Y.Shape[0] != 10000 {
		t.Fatalf("labels %v and %v, want [60000] and [10000]", tr.Y.Shape, te.Y.Shape)
	}
	for i, id := range tr.Y.Data {
		if oneHot.Y.Data[i*10+int(id)] != 1 {
			t.Fatalf("example %d: class id %v, one-hot row %v", i, id, oneHot.Y.Data[i*10:i*10+10])
		}
	}
}
