package models

import (
	"archive/zip"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
)

// writeRawNPZ writes arrays given as numpy dtype strings, shapes and raw
// little-endian bytes (ints and uint8 data, which data.WriteNPZ does not
// write).
func writeRawNPZ(t *testing.T, path string, arrays map[string]struct {
	descr string
	shape string
	raw   []byte
}) {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for name, a := range arrays {
		w, err := z.Create(name + ".npy")
		if err != nil {
			t.Fatal(err)
		}
		h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", a.descr, a.shape)
		for (10+len(h)+1)%64 != 0 {
			h += " "
		}
		h += "\n"
		w.Write([]byte("\x93NUMPY\x01\x00"))
		w.Write([]byte{byte(len(h)), byte(len(h) >> 8)})
		w.Write([]byte(h))
		w.Write(a.raw)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type rawArray = struct {
	descr string
	shape string
	raw   []byte
}

// The loss: key and uint8 data with data.scale, and their bad inputs.
func TestConfigLossAndScale(t *testing.T) {
	dir := t.TempDir()
	// x uint8 [4, 2], y int64 class ids [4] (3 classes), and the same x
	// as int32 (not accepted).
	x := []byte{0, 255, 1, 128, 17, 3, 254, 9}
	ids := []byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	x32 := make([]byte, 32)
	for i, v := range x {
		x32[4*i] = v
	}
	writeRawNPZ(t, filepath.Join(dir, "u8.npz"), map[string]rawArray{"x": {"|u1", "(4, 2)", x}, "y": {"<i8", "(4,)", ids}})
	writeRawNPZ(t, filepath.Join(dir, "i32.npz"), map[string]rawArray{"x": {"<i4", "(4, 2)", x32}, "y": {"<i8", "(4,)", ids}})
	base := "inputs: 2\nlayers: [{type: dense, name: d, units: 3}]\n"
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"sparse, 1/255", "loss: {name: sparse_categorical_crossentropy}\ndata: {npz: u8.npz, scale: 1/255}\n", ""},
		{"sparse, number", "loss: {name: Sparse_Categorical_Crossentropy}\ndata: {npz: u8.npz, scale: 0.00392156862745098}\n", ""},
		{"no scale", "loss: {name: sparse_categorical_crossentropy}\ndata: {npz: u8.npz}\n", "x is uint8; set data.scale (qat train, eval and predict: --scale), e.g. 1/255"},
		{"int32 x", "loss: {name: sparse_categorical_crossentropy}\ndata: {npz: i32.npz, scale: 1}\n", "x is int32; want float32, float64 or uint8"},
		{"ids for categorical", "data: {npz: u8.npz, scale: 1/255}\n", "y has shape [4], the model needs [N, 3] (one-hot)"},
		{"bad scale", "data: {npz: u8.npz, scale: 1/0}\n", `scale "1/0": want a finite number > 0`},
		{"negative scale", "data: {npz: u8.npz, scale: -2}\n", `scale "-2"`},
		{"scale without npz", "data: {examples: 5, scale: 2}\n", "scale applies to an npz file's x"},
		{"unknown loss", "loss: {name: hinge}\n", `loss: unknown name "hinge"`},
		{"loss without name", "loss: {label_smoothing: 0.1}\n", "loss: name is missing"},
		{"unknown loss key", "loss: {name: mse, from_logits: true}\n", `unknown key "from_logits" in loss (known keys: name, label_smoothing)`},
		{"sparse smoothing", "loss: {name: sparse_categorical_crossentropy, label_smoothing: 0.1}\n", "takes no label_smoothing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "c.yaml")
			if err := os.WriteFile(path, []byte(base+c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(path)
			if err == nil {
				var d interface{ Len() int }
				ds, derr := cfg.Dataset()
				err, d = derr, ds
				if err == nil && c.want == "" {
					// x * float32(1/255) as numpy computes it.
					one := 1.0
					s := float32(one / 255) // Python's 1/255, in float64, then float32
					if ds.X.Data[1] != 255*s || ds.X.Data[3] != 128*s || ds.Y.Data[0] != 2 || ds.Y.Data[2] != 1 || d.Len() != 4 {
						t.Fatalf("data x %v y %v", ds.X.Data, ds.Y.Data)
					}
					var b bytes.Buffer
					if err := cfg.Encode(&b); err != nil {
						t.Fatal(err)
					}
					back, err := ParseConfig(&b)
					if err != nil || back.Loss != cfg.Loss || back.Data.Scale != cfg.Data.Scale {
						t.Fatalf("round trip: %v %+v %+v", err, back, cfg)
					}
				}
			}
			if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

// uint8 images scaled as numpy's x.astype(np.float32) * s, and every
// integer dtype read as numpy converts it to float32
// (third_party/reference/scale_reference.py): bit-identical.
func TestReadDatasetScaledMatchesNumpy(t *testing.T) {
	dir := t.TempDir()
	if _, err := oracle.Run("scale_reference.py", dir); err != nil {
		t.Fatal(err)
	}
	want, err := data.ReadNPZ(filepath.Join(dir, "expected.npz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ key, scale string }{{"x_255", "1/255"}, {"x_0.1", "0.1"}} {
		s, err := ParseScale(c.scale)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := ReadDatasetScaled(filepath.Join(dir, "images.npz"), s)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "x * "+c.scale, ds.X.Data, want[c.key].Data)
		same(t, "y", ds.Y.Data, want["y"].Data)
		if err := ds.ValidateLabels([]int64{3}, 10, data.ClassIDs); err != nil {
			t.Error(err)
		}
	}
	arrays, types, err := data.ReadNPZTypes(filepath.Join(dir, "ints.npz"))
	if err != nil {
		t.Fatal(err)
	}
	for k, a := range arrays {
		if types[k] != k {
			t.Errorf("%s: dtype %q", k, types[k])
		}
		same(t, k, a.Data, want[k].Data)
	}
	if _, err := data.ReadNPZ(filepath.Join(dir, "ints.npz")); err == nil || !strings.Contains(err.Error(), "want float32 (<f4) or float64 (<f8)") {
		t.Errorf("ReadNPZ of integer arrays: %v, want the float-only error", err)
	}
}

// same fails the test at the first element whose bits differ.
func same(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, numpy %v", what, i, got[i], want[i])
		}
	}
}
