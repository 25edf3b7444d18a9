package tensorboard_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/internal/tbevents"
	"github.com/qat-go/qat/internal/testutil"
	"github.com/qat-go/qat/tensorboard"
)

// Scalars and a histogram written through TensorFlow's summary kernels read
// back with TensorBoard's own EventAccumulator: the same float32 values at
// the same steps, and the histogram's count, extremes and sums those of the
// values.
func TestWriterRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs", "train") // created by the writer
	w, err := tensorboard.NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	scalars := map[int64]map[string]float32{
		1:  {"loss": 2.3025851, "learning_rate": 0.001},
		2:  {"loss": float32(1) / 3, "learning_rate": 0.00099999993},
		10: {"loss": 1e-30, "learning_rate": 123456.79},
	}
	for _, step := range []int64{1, 2, 10} {
		if err := w.Scalars(step, scalars[step]); err != nil {
			t.Fatal(err)
		}
	}
	hist := []float32{-1.5, -0.25, 0, 0, 0.125, 0.3333, 7, 1e-6}
	if err := w.Histograms(10, map[string][]float32{"weights/d/kernel": hist}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Scalars(11, map[string]float32{"loss": 1}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Scalars after Close: got %v, want a closed-writer error", err)
	}

	run, err := tbevents.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Files) != 1 || !strings.HasSuffix(run.Files[0], ".v2") || run.FileVersion != 2 {
		t.Errorf("files %v, version %g: want one events.out.tfevents.*.v2 file of brain.Event:2", run.Files, run.FileVersion)
	}
	for _, tag := range []string{"loss", "learning_rate"} {
		got := run.Scalars[tag]
		if len(got) != 3 {
			t.Fatalf("%s: %d events, want 3", tag, len(got))
		}
		for i, step := range []int64{1, 2, 10} {
			if got[i].Step() != step || got[i].Value() != scalars[step][tag] {
				t.Errorf("%s event %d: step %d value %g, want step %d value %g", tag, i, got[i].Step(), got[i].Value(), step, scalars[step][tag])
			}
		}
	}
	hs := run.Histograms["weights/d/kernel"]
	if len(hs) != 1 {
		t.Fatalf("histogram: %d events, want 1", len(hs))
	}
	h := hs[0]
	var sum, sq float64
	for _, v := range hist {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	var counted float64
	for _, c := range h.Bucket {
		counted += c
	}
	if h.Step != 10 || h.Num != 8 || h.Min != -1.5 || h.Max != 7 || counted != 8 ||
		math.Abs(h.Sum-sum) > 1e-12 || math.Abs(h.SumSquares-sq) > 1e-12 {
		t.Errorf("histogram step %d num %g (in buckets %g) min %g max %g sum %g sum_squares %g; want 10, 8, -1.5, 7, %g, %g",
			h.Step, h.Num, counted, h.Min, h.Max, h.Sum, h.SumSquares, sum, sq)
	}
}

// A folder that cannot be made or written is an error from Open, naming
// it, before TensorFlow is asked to write there.
func TestWriterBadFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := t.TempDir()
	testutil.ReadOnly(t, readOnly)
	for _, tc := range []struct {
		name, dir string
		opts      tensorboard.Options
		want      string
	}{
		{"under a file", filepath.Join(file, "logs"), tensorboard.Options{}, "tensorboard: cannot make the log folder: mkdir " + file + ": not a directory"},
		{"read-only", readOnly, tensorboard.Options{}, "tensorboard: cannot write event files to " + readOnly + ": open " + readOnly + "/.write-check-"},
		{"empty", "", tensorboard.Options{}, "empty log folder"},
		{"negative queue", t.TempDir(), tensorboard.Options{MaxQueue: -1}, "max_queue -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := tensorboard.Open(tc.dir, tc.opts)
			if err == nil {
				w.Close()
				t.Fatalf("Open(%q) succeeded", tc.dir)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
