package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/qat-go/qat/data"
)

// The facts of the MNIST files checked by TestLoad: the first labels and the
// number of examples of each class (also checked with Python on the files).
var sets = []struct {
	name       string
	n          int
	first      []int
	classes    [Classes]int
	firstImage int // sum of the bytes of the first image
}{
	{"train", 60000, []int{5, 0, 4, 1, 9, 2, 1, 3, 1, 4},
		[Classes]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}, 27525},
	{"test", 10000, []int{7, 2, 1, 0, 4, 1, 4, 9, 5, 9},
		[Classes]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, 18454},
}

func TestLoad(t *testing.T) {
	start := time.Now()
	train, test, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Load: %v", time.Since(start))
	for i, d := range []data.Dataset{train, test} {
		want := sets[i]
		t.Run(want.name, func(t *testing.T) {
			if s := []int64{int64(want.n), 28, 28, 1}; !reflect.DeepEqual(d.X.Shape, s) || len(d.X.Data) != want.n*28*28 {
				t.Fatalf("x has shape %v and %d values, want %v", d.X.Shape, len(d.X.Data), s)
			}
			if s := []int64{int64(want.n), Classes}; !reflect.DeepEqual(d.Y.Shape, s) || len(d.Y.Data) != want.n*Classes {
				t.Fatalf("y has shape %v and %d values, want %v", d.Y.Shape, len(d.Y.Data), s)
			}
			lo, hi := d.X.Data[0], d.X.Data[0]
			for _, v := range d.X.Data {
				lo, hi = min(lo, v), max(hi, v)
			}
			if lo != 0 || hi != 1 {
				t.Fatalf("pixels in [%v, %v], want [0, 1]", lo, hi)
			}
			var sum float64
			for _, v := range d.X.Data[:28*28] {
				sum += float64(v) * 255
			}
			if int(sum+0.5) != want.firstImage {
				t.Fatalf("first image: 255 * sum of pixels = %v, want %d", sum, want.firstImage)
			}
			for i := range want.n {
				ones, zeros := 0, 0
				for _, v := range d.Y.Data[i*Classes : (i+1)*Classes] {
					switch v {
					case 1:
						ones++
					case 0:
						zeros++
					}
				}
				if ones != 1 || zeros != Classes-1 {
					t.Fatalf("y row %d = %v is not one-hot", i, d.Y.Data[i*Classes:(i+1)*Classes])
				}
			}
			labels, err := Labels(d)
			if err != nil {
				t.Fatal(err)
			}
			if got := labels[:len(want.first)]; !reflect.DeepEqual(got, want.first) {
				t.Fatalf("first labels %v, want %v", got, want.first)
			}
			var count [Classes]int
			for _, l := range labels {
				count[l]++
			}
			if count != want.classes {
				t.Fatalf("examples per class %v, want %v", count, want.classes)
			}
		})
	}
}

// idxFile returns a gzipped idx file with the given magic, dimensions and
// data.
func idxFile(t testing.TB, magic uint32, dims []uint32, data []byte) []byte {
	t.Helper()
	var raw bytes.Buffer
	binary.Write(&raw, binary.BigEndian, magic)
	binary.Write(&raw, binary.BigEndian, dims)
	raw.Write(data)
	return gz(t, raw.Bytes())
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// tiny is a valid set of 3 images of 2x2 pixels and their labels.
func tiny(t testing.TB) (images, labels []byte) {
	pixels := []byte{0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8}
	return idxFile(t, imagesMagic, []uint32{3, 2, 2}, pixels),
		idxFile(t, labelsMagic, []uint32{3}, []byte{9, 0, 4})
}

func TestReadIDX(t *testing.T) {
	images, labels := tiny(t)
	img, err := readIDX("img", bytes.NewReader(images), imagesMagic)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := readIDX("lab", bytes.NewReader(labels), labelsMagic)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dataset("img", img, "lab", lab)
	if err != nil {
		t.Fatal(err)
	}
	want := data.Dataset{
		X: data.Array{Shape: []int64{3, 2, 2, 1}, Data: []float32{0, 1, float32(51) / 255, float32(102) / 255,
			float32(1) / 255, float32(2) / 255, float32(3) / 255, float32(4) / 255,
			float32(5) / 255, float32(6) / 255, float32(7) / 255, float32(8) / 255}},
		Y: data.Array{Shape: []int64{3, 10}, Data: []float32{
			0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
			1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 1, 0, 0, 0, 0, 0}},
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("got %v\nwant %v", d, want)
	}
}

func TestReadIDXErrors(t *testing.T) {
	images, _ := tiny(t)
	raw := func(b ...byte) []byte { return gz(t, b) }
	badCRC := append([]byte(nil), images...)
	badCRC[len(badCRC)-5] ^= 0xff // the last byte of the CRC-32
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "not a gzip file"},
		{"not gzip", []byte("\x00\x00\x08\x03 plain idx"), "not a gzip file"},
		{"no magic", raw(0, 0, 8), "reading the magic number: file is truncated"},
		{"labels magic", idxFile(t, labelsMagic, []uint32{3}, []byte{1, 2, 3}), "magic number 0x801, want 0x803"},
		{"other magic", raw(0x1f, 0x8b, 8, 3), "magic number 0x1f8b0803, want 0x803"},
		{"truncated dims", raw(0, 0, 8, 3, 0, 0, 0, 3, 0, 0), "reading dimension 2 of 3: file is truncated"},
		{"zero count", idxFile(t, imagesMagic, []uint32{0, 2, 2}, nil), "dimension 1 is 0"},
		{"too large", idxFile(t, imagesMagic, []uint32{1 << 20, 1 << 20, 28}, nil), "dimension 2 is 1048576: the file is corrupt or too large"},
		{"truncated data", idxFile(t, imagesMagic, []uint32{3, 2, 2}, make([]byte, 11)), "reading 12 bytes of data for shape [3 2 2]: file is truncated: it holds 11"},
		{"count beyond the file", idxFile(t, imagesMagic, []uint32{1_000_000, 28, 28}, make([]byte, 784)), "reading 784000000 bytes of data for shape [1000000 28 28]: file is truncated: it holds 784"},
		{"trailing data", idxFile(t, imagesMagic, []uint32{3, 2, 2}, make([]byte, 14)), "2 bytes after the data"},
		{"truncated gzip", images[:len(images)-10], "file is truncated"},
		{"bad checksum", badCRC, "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, err := readIDX("f.gz", bytes.NewReader(tc.file), imagesMagic)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "mnist: f.gz: ") {
				t.Fatalf("got %v, %v; want an error starting mnist: f.gz: and containing %q", got, err, tc.want)
			}
			// A header's count is not an allocation: the first buffer is 64 KiB.
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("allocated %d bytes for a %d-byte file", n, len(tc.file))
			}
		})
	}
}

func TestDatasetErrors(t *testing.T) {
	images, labels := tiny(t)
	for _, tc := range []struct {
		name           string
		images, labels []byte
		want           string
	}{
		{"count mismatch", images, idxFile(t, labelsMagic, []uint32{2}, []byte{1, 2}), "has 3 images but"},
		{"not a digit", images, idxFile(t, labelsMagic, []uint32{3}, []byte{1, 10, 2}), "label 10 of example 1 is not a digit"},
		{"swapped files", labels, images, "magic number 0x801, want 0x803"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				TrainImagesFile: {Data: tc.images}, TrainLabelsFile: {Data: tc.labels},
				TestImagesFile: {Data: images}, TestLabelsFile: {Data: labels},
			}
			_, _, err := load(fsys, func(name string) string { return "dir/" + name })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	images, labels := tiny(t)
	for name, b := range map[string][]byte{
		TrainImagesFile: images, TrainLabelsFile: labels,
		TestImagesFile: images, TestLabelsFile: labels,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	train, test, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(train, test) || train.Len() != 3 || !reflect.DeepEqual(train.X.Shape, []int64{3, 2, 2, 1}) {
		t.Fatalf("LoadDir: train %v, test %v", train, test)
	}
	if got, _ := Labels(train); !reflect.DeepEqual(got, []int{9, 0, 4}) {
		t.Fatalf("labels %v, want [9 0 4]", got)
	}

	// A missing file, a missing folder, or a file given as the folder: the
	// error names the path.
	missing := filepath.Join(dir, TestLabelsFile)
	if err := os.Remove(missing); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, TrainImagesFile)
	for _, tc := range []struct{ dir, want string }{
		{dir, missing},
		{filepath.Join(dir, "nope"), filepath.Join(dir, "nope")},
		{notDir, notDir + " is not a folder"},
	} {
		if _, _, err := LoadDir(tc.dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadDir(%s): got %v, want an error containing %q", tc.dir, err, tc.want)
		}
	}
}

func TestLabels(t *testing.T) {
	got, err := Labels(data.Dataset{Y: data.Array{Shape: []int64{3, 3}, Data: []float32{0, 0, 1, 0.2, 0.7, 0.1, 0.5, 0.5, 0}}})
	if err != nil || !reflect.DeepEqual(got, []int{2, 1, 0}) {
		t.Fatalf("got %v, %v; want [2 1 0]", got, err)
	}
	for _, y := range []data.Array{
		{},
		{Shape: []int64{3}, Data: make([]float32, 3)},
		{Shape: []int64{2, 0}},
		{Shape: []int64{2, 3}, Data: make([]float32, 5)},
	} {
		if _, err := Labels(data.Dataset{Y: y}); err == nil {
			t.Errorf("Labels of y %v: no error", y.Shape)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, _, err := Load(); err != nil {
			b.Fatal(err)
		}
	}
}
