package loop_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

// ckptTrainer is a trainer of SmallCNN with 8-bit QAT on MNIST, batches
// of 32.
func ckptTrainer(t *testing.T, m models.Model, mutate func(*loop.Config)) *loop.Trainer {
	t.Helper()
	data, _ := cachedMNIST(t)
	cfg := loop.DefaultConfig()
	cfg.Optimizer = adam(1e-3)
	cfg.BatchSize, cfg.DataSeed = 32, 5
	if mutate != nil {
		mutate(&cfg)
	}
	tr, err := loop.NewTrainer(m, data, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func ckptSteps(t *testing.T, tr *loop.Trainer, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
}

func ckptState(t *testing.T, tr *loop.Trainer) data.Weights {
	t.Helper()
	s, err := tr.State()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ckptSameBits fails unless a and b hold the same variables with the same bits.
func ckptSameBits(t *testing.T, what string, a, b data.Weights) {
	t.Helper()
	if !reflect.DeepEqual(a.Names(), b.Names()) {
		t.Fatalf("%s: variables %v and %v", what, a.Names(), b.Names())
	}
	for name, x := range a {
		y := b[name]
		if !reflect.DeepEqual(x.Shape, y.Shape) {
			t.Fatalf("%s: %s has shapes %v and %v", what, name, x.Shape, y.Shape)
		}
		for i := range x.Data {
			if math.Float32bits(x.Data[i]) != math.Float32bits(y.Data[i]) {
				t.Fatalf("%s: %s[%d] is %v and %v", what, name, i, x.Data[i], y.Data[i])
			}
		}
	}
}

func ckptSameLosses(t *testing.T, what string, a, b []float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d and %d losses", what, len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("%s: loss of step %d is %v and %v", what, i+1, a[i], b[i])
		}
	}
}

// Training 12 steps, saving, restoring into a new trainer and training 18
// more ends with the same bits in every variable (weights, ranges, the
// optimizer's slots and counters) and the same losses as 30 steps
// straight, with Adam and with SGD (Nesterov momentum).
func TestCheckpointResumeIsExact(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  loop.Optimizer
	}{
		{"adam", adam(1e-3)},
		{"sgd", loop.SGD{LearningRate: 0.01, Momentum: 0.9, Nesterov: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkpointResumeIsExact(t, c.name, func(cfg *loop.Config) { cfg.Optimizer = c.opt })
		})
	}
}

func checkpointResumeIsExact(t *testing.T, optimizer string, mutate func(*loop.Config)) {
	m := models.SmallCNN(qat.Default8Bit())
	straight := ckptTrainer(t, m, mutate)
	ckptSteps(t, straight, 30)

	dir := t.TempDir()
	first := ckptTrainer(t, m, mutate)
	ckptSteps(t, first, 12)
	path, err := first.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "ckpt-000000012"); path != want {
		t.Errorf("Save wrote %s, want %s", path, want)
	}
	saved := ckptState(t, first)
	first.Close()

	resumed := ckptTrainer(t, m, mutate)
	if err := resumed.Restore(path); err != nil {
		t.Fatal(err)
	}
	if resumed.StepsDone() != 12 || len(resumed.Losses()) != 12 {
		t.Fatalf("restored %d steps, %d losses; want 12", resumed.StepsDone(), len(resumed.Losses()))
	}
	ckptSameBits(t, "restored state", saved, ckptState(t, resumed))
	next := 13
	if err := resumed.Run(context.Background(), 18, func(r loop.StepResult) error {
		if r.Step != next {
			return fmt.Errorf("step %d reported as %d", next, r.Step)
		}
		next++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	final := ckptState(t, straight)
	ckptSameBits(t, "after 12+18 steps vs 30", final, ckptState(t, resumed))
	ckptSameLosses(t, "losses 1..30", straight.Losses(), resumed.Losses())
	var slots, ranges int
	for name := range final {
		slots += b2i(strings.HasPrefix(name, optimizer+"/") && !strings.HasSuffix(name, "iterations"))
		ranges += b2i(strings.HasSuffix(name, "_min") || strings.HasSuffix(name, "_max"))
	}
	if slots == 0 || ranges == 0 {
		t.Errorf("the state has %d %s slots and %d ranges; want both", slots, optimizer, ranges)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Python's tf.train.load_checkpoint reads a checkpoint (by folder and by
// prefix) under the variables' names with the same bits, and
// tf.train.latest_checkpoint finds the newest.
func TestCheckpointReadByPython(t *testing.T) {
	tr := ckptTrainer(t, models.SmallCNN(qat.Default8Bit()), nil)
	dir := t.TempDir()
	ckptSteps(t, tr, 5)
	if _, err := tr.Save(dir); err != nil {
		t.Fatal(err)
	}
	ckptSteps(t, tr, 7)
	path, err := tr.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := oracle.Run("checkpoint_check.py", dir, path, filepath.Join(path, "ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		DType   string   `json:"dtype"`
		Shape   []int64  `json:"shape"`
		SHA256  string   `json:"sha256"`
		Strings []string `json:"strings"`
	}
	var got struct {
		Latest      string                      `json:"latest"`
		Checkpoints map[string]map[string]entry `json:"checkpoints"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if want := filepath.Join(path, "ckpt"); got.Latest != want {
		t.Errorf("tf.train.latest_checkpoint = %q, want %q", got.Latest, want)
	}
	want := map[string]entry{}
	for name, a := range ckptState(t, tr) {
		raw := make([]byte, 4*len(a.Data))
		for i, v := range a.Data {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		want[name] = entry{DType: "float32", Shape: a.Shape, SHA256: digest(raw)}
	}
	i64 := func(v int64) entry {
		return entry{DType: "int64", Shape: []int64{}, SHA256: digest(binary.LittleEndian.AppendUint64(nil, uint64(v)))}
	}
	want["global_step"], want["adam/iterations"] = i64(12), i64(12)
	for p, entries := range got.Checkpoints {
		for name, w := range want {
			if e := entries[name]; e.DType != w.DType || e.SHA256 != w.SHA256 || fmt.Sprint(e.Shape) != fmt.Sprint(w.Shape) {
				t.Errorf("%s: %s is %+v in Python, want %+v", p, name, e, w)
			}
		}
		if n := len(entries[loopVariables].Strings); n != len(want) {
			t.Errorf("%s: %s lists %d variables, want %d", p, loopVariables, n, len(want))
		}
		losses := tr.Losses()
		raw := make([]byte, 4*len(losses))
		for i, v := range losses {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		if e := entries["_trainer/losses"]; e.SHA256 != digest(raw) || !reflect.DeepEqual(e.Shape, []int64{12}) {
			t.Errorf("%s: _trainer/losses %+v", p, e)
		}
		for name, v := range map[string]int64{"_trainer/step": 12, "_data/batch_size": 32, "_data/seed": 5, "_data/examples": 60000} {
			if e := entries[name]; e.SHA256 != i64(v).SHA256 || e.DType != "int64" || len(e.Shape) != 0 {
				t.Errorf("%s: %s is %+v, want %d", p, name, e, v)
			}
		}
	}
}

const loopVariables = "_trainer/variables"

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
