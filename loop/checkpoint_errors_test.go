package loop_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/testutil"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// A truncated or corrupt newest checkpoint is skipped with an error naming
// its file; the one before is restored and nothing is deleted. When every
// checkpoint is bad the error lists them all.
func TestCheckpointCorrupt(t *testing.T) {
	m := models.SmallCNN(qat.Default8Bit())
	tr := ckptTrainer(t, m, nil)
	dir := t.TempDir()
	var paths []string
	for i := 0; i < 3; i++ {
		ckptSteps(t, tr, 2)
		p, err := tr.Save(dir)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	at4 := ckptTrainer(t, m, nil)
	if err := at4.Restore(paths[1]); err != nil {
		t.Fatal(err)
	}
	want4 := ckptState(t, at4)

	data := filepath.Join(paths[2], "ckpt.data-00000-of-00001")
	ckptTruncate(t, data, 0.5)
	r := ckptTrainer(t, m, nil)
	before := ckptState(t, r)
	err := r.Restore(paths[2])
	if err == nil || !strings.Contains(err.Error(), data+" is truncated or corrupt") {
		t.Fatalf("Restore of a truncated checkpoint: %v", err)
	}
	ckptSameBits(t, "state after a failed restore", before, ckptState(t, r))
	got, skipped, err := r.RestoreLatest(dir)
	if err != nil || got != paths[1] || len(skipped) != 1 || !strings.Contains(skipped[0].Error(), data) {
		t.Fatalf("RestoreLatest = %q, %v, %v; want %s after skipping %s", got, skipped, err, paths[1], paths[2])
	}
	if r.StepsDone() != 4 {
		t.Errorf("restored step %d, want 4", r.StepsDone())
	}
	ckptSameBits(t, "fallback", want4, ckptState(t, r))
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("RestoreLatest removed a checkpoint: %v", err)
		}
	}

	// The index truncated, a flipped byte in the data, the data missing.
	index := filepath.Join(paths[1], "ckpt.index")
	ckptTruncate(t, index, 0.9)
	ckptFlip(t, filepath.Join(paths[0], "ckpt.data-00000-of-00001"))
	for _, c := range []struct{ path, want string }{
		{paths[1], index + " is truncated or corrupt"},
		{paths[0], filepath.Join(paths[0], "ckpt.data-00000-of-00001") + " is truncated or corrupt: TensorBundle"},
	} {
		if err := r.Restore(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Restore(%s) = %v, want an error with %q", c.path, err, c.want)
		}
	}
	_, skipped, err = r.RestoreLatest(dir)
	if err == nil || len(skipped) != 3 || !strings.HasPrefix(err.Error(), "none of the 3 checkpoints in "+dir+" can be restored") {
		t.Fatalf("RestoreLatest with every checkpoint bad = %v (skipped %d)", err, len(skipped))
	}
	for _, p := range paths {
		if !strings.Contains(err.Error(), "checkpoint "+p+": ") {
			t.Errorf("the error does not name %s: %v", p, err)
		}
	}
	ckptSameBits(t, "state after failed restores", want4, ckptState(t, r))
	os.Remove(filepath.Join(paths[0], "ckpt.data-00000-of-00001"))
	if err := r.Restore(paths[0]); err == nil || !strings.Contains(err.Error(), "ckpt.data-00000-of-00001: no such file") {
		t.Errorf("Restore without the data file: %v", err)
	}

	if _, _, err := r.RestoreLatest(t.TempDir()); !errors.Is(err, loop.ErrNoCheckpoint) {
		t.Errorf("RestoreLatest of an empty folder = %v, want ErrNoCheckpoint", err)
	}
	if _, _, err := r.RestoreLatest(filepath.Join(dir, "missing")); !errors.Is(err, loop.ErrNoCheckpoint) {
		t.Errorf("RestoreLatest of a missing folder = %v, want ErrNoCheckpoint", err)
	}
}

func ckptTruncate(t *testing.T, path string, keep float64) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(float64(info.Size())*keep)); err != nil {
		t.Fatal(err)
	}
}

func ckptFlip(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A checkpoint of another model, or of the same model trained with other
// batches, is refused with the reason, and leaves the trainer as it was.
func TestCheckpointOtherModel(t *testing.T) {
	dir := t.TempDir()
	src := ckptTrainer(t, models.SmallCNN(qat.Default8Bit()), nil)
	ckptSteps(t, src, 1)
	path, err := src.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	narrow := models.SmallCNN(qat.Default8Bit())
	narrow.Layers[0] = layers.Conv2D{Name: "c1", Filters: 4, Kernel: [2]int{3, 3}, Activation: layers.ReLUAct}
	for _, c := range []struct {
		name   string
		m      models.Model
		mutate func(*loop.Config)
		want   string
	}{
		{"float model", models.SmallCNN(nil), nil, "it is of another model: it has 14 variable(s) this model lacks (quantize_layer/quantize_layer_min, "},
		{"other shapes", narrow, nil, "variable c1/kernel is float32 [3 3 1 8] in the checkpoint, float32 [3 3 1 4] in the model"},
		{"batch size", models.SmallCNN(qat.Default8Bit()), func(c *loop.Config) { c.BatchSize = 64 }, "it was trained with batch size 32, this trainer has 64"},
		{"data seed", models.SmallCNN(qat.Default8Bit()), func(c *loop.Config) { c.DataSeed = 6 }, "it was trained with data seed 5, this trainer has 6"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := ckptTrainer(t, c.m, c.mutate)
			before := ckptState(t, tr)
			err := tr.Restore(path)
			if err == nil || !strings.HasPrefix(err.Error(), "checkpoint "+path+": "+c.want) {
				t.Fatalf("Restore = %v\nwant %q", err, c.want)
			}
			ckptSameBits(t, "state after a failed restore", before, ckptState(t, tr))
			if tr.StepsDone() != 0 {
				t.Errorf("step %d after a failed restore", tr.StepsDone())
			}
		})
	}
}

// Save keeps the newest checkpoints, replaces one of the same step, drops
// those of later steps (an abandoned run) and leftover temporary folders;
// a full-batch trainer checkpoints too.
func TestCheckpointKeep(t *testing.T) {
	m := models.Example3()
	data, err := data.Synthetic(64, int(m.Input[0]), m.Classes(), 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := loop.DefaultConfig()
	cfg.KeepCheckpoints = 2
	tr, err := loop.NewTrainer(m, data, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	dir := t.TempDir()
	stale := filepath.Join(dir, ".tmp-ckpt-123")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	list := func() []int {
		cks, err := loop.Checkpoints(dir)
		if err != nil {
			t.Fatal(err)
		}
		var s []int
		for _, c := range cks {
			s = append(s, c.Step)
		}
		return s
	}
	for i := 0; i < 4; i++ {
		ckptSteps(t, tr, 1)
		if _, err := tr.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	if got := list(); !reflect.DeepEqual(got, []int{4, 3}) {
		t.Errorf("checkpoints %v, want [4 3]", got)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the leftover %s is still there", stale)
	}
	want4 := ckptState(t, tr)
	if err := tr.Restore(filepath.Join(dir, "ckpt-000000003")); err != nil {
		t.Fatal(err)
	}
	ckptSteps(t, tr, 1)
	ckptSameBits(t, "step 4 again", want4, ckptState(t, tr))
	if _, err := tr.Save(dir); err != nil { // replaces ckpt-4
		t.Fatal(err)
	}
	if got := list(); !reflect.DeepEqual(got, []int{4, 3}) {
		t.Errorf("checkpoints %v, want [4 3]", got)
	}
	if err := tr.Restore(filepath.Join(dir, "ckpt-000000003")); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Save(dir); err != nil { // replaces ckpt-3, drops ckpt-4
		t.Fatal(err)
	}
	if got := list(); !reflect.DeepEqual(got, []int{3}) {
		t.Errorf("checkpoints %v, want [3]", got)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"checkpoint", "ckpt-000000003"}) {
		t.Errorf("the folder holds %v", names)
	}
}

// Saving into a folder that cannot be written fails clearly and leaves
// the checkpoints there.
func TestCheckpointReadOnly(t *testing.T) {
	m := models.Example3()
	data, err := data.Synthetic(64, int(m.Input[0]), m.Classes(), 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := loop.NewTrainer(m, data, nil, loop.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	dir := t.TempDir()
	ckptSteps(t, tr, 1)
	good, err := tr.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	testutil.ReadOnly(t, dir)
	ckptSteps(t, tr, 1)
	if _, err := tr.Save(dir); err == nil || !strings.HasPrefix(err.Error(), "checkpoint step 2: mkdir "+dir+"/.tmp-ckpt-") {
		t.Fatalf("Save into a read-only folder: %v", err)
	}
	if err := tr.Restore(good); err != nil {
		t.Fatalf("the earlier checkpoint: %v", err)
	}
}

// A checkpoint of a run on other data of the same shapes is refused with
// an error that says the data differ, and leaves the trainer as it was.
func TestCheckpointOtherData(t *testing.T) {
	m := models.Example3()
	trainer := func(seed uint64) (*loop.Trainer, data.Dataset) {
		data, err := data.Synthetic(64, int(m.Input[0]), m.Classes(), seed)
		if err != nil {
			t.Fatal(err)
		}
		cfg := loop.DefaultConfig()
		cfg.BatchSize = 16
		tr, err := loop.NewTrainer(m, data, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr, data
	}
	src, _ := trainer(1)
	ckptSteps(t, src, 2)
	path, err := src.Save(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	same, _ := trainer(1)
	if err := same.Restore(path); err != nil {
		t.Fatalf("the same data: %v", err)
	}
	other, _ := trainer(2)
	before := ckptState(t, other)
	err = other.Restore(path)
	if err == nil || !strings.HasPrefix(err.Error(), "checkpoint "+path+": it was trained on other data (_data/sha256 sha256:") ||
		!strings.Contains(err.Error(), "the data differ, though their shapes are the same") {
		t.Fatalf("Restore = %v", err)
	}
	ckptSameBits(t, "state after a failed restore", before, ckptState(t, other))
}

// A checkpoint of format 1 (before the data fingerprint) is refused with
// an error that says why.
func TestCheckpointFormat1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt-000000001")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	g := tfgraph.NewGraph()
	one, err := tf.NewTensor(int64(1))
	if err != nil {
		t.Fatal(err)
	}
	save := g.Op("SaveV2", "save", []any{g.Const("prefix", filepath.Join(dir, "ckpt")), g.Const("names", []string{"_trainer/format"}),
		g.Const("slices", []string{""}), []tf.Output{g.Const("format", one)}}, nil)
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{save}); err != nil {
		t.Fatal(err)
	}
	tr, err := loop.NewTrainer(models.Example1(), mustSynthetic(t, 16, 10, 2), nil, loop.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Restore(dir); err == nil || err.Error() != "checkpoint "+dir+": format 1, of an older qat, which did not record a fingerprint of the training data; this qat reads format 2, and cannot check that the data are the same: start a new run" {
		t.Fatalf("Restore = %v", err)
	}
}
