package models

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// withMemoryLimit sets SetMemoryLimit for one test.
func withMemoryLimit(t *testing.T, limit int64) {
	prev := SetMemoryLimit(limit)
	t.Cleanup(func() { SetMemoryLimit(prev) })
}

func TestFootprint(t *testing.T) {
	m := MLP(nil) // 784 -> 128 (relu) -> 10
	f, err := m.Footprint(2, true)
	if err != nil {
		t.Fatal(err)
	}
	params := int64(784*128 + 128 + 128*10 + 10)
	if want := params*16 + 2*(784+128+10)*4; f.Params != params || f.Bytes != want {
		t.Errorf("training footprint %+v, want %d parameters and %d bytes", f, params, want)
	}
	if f.Layer != m.Layers[0].LayerName() || f.LayerParams != 784*128+128 {
		t.Errorf("largest layer %s with %d parameters, want %s with %d", f.Layer, f.LayerParams, m.Layers[0].LayerName(), 784*128+128)
	}
	inf, err := m.Footprint(1, false)
	if err != nil || inf.Bytes != params*8+(784+128+10)*4 {
		t.Errorf("inference footprint %+v, %v", inf, err)
	}
	cnn := MNISTCNN(qat.Default8Bit())
	if f, err := cnn.Footprint(64, true); err != nil || f.Params == 0 || f.Bytes < f.Params*16 {
		t.Errorf("MNIST CNN footprint %+v, %v", f, err)
	}
}

func TestMemoryBudget(t *testing.T) {
	budget, source := MemoryBudget()
	t.Logf("budget %s (%s)", formatBytes(budget), source)
	if runtime.GOOS == "linux" && (source == "" || budget <= 0 || budget == math.MaxInt64) {
		t.Errorf("on Linux the budget should come from /proc: %d, %q", budget, source)
	}
	withMemoryLimit(t, 1<<20)
	if b, s := MemoryBudget(); b != 1<<20 || s != "the cap set with models.SetMemoryLimit" {
		t.Errorf("with a 1 MiB cap: %d, %q", b, s)
	}
}

// TestHugeModelsFailFast builds models far larger than memory through
// every path that allocates (Config validation, InitialWeights, a training
// Build as loop.NewTrainer does, synthetic data): each fails at once with
// an error naming the layer and the bytes, without allocating.
func TestHugeModelsFailFast(t *testing.T) {
	withMemoryLimit(t, 1<<30) // 1 GiB, so the test means the same on any machine
	big := Model{Input: []int64{10}, Layers: []Layer{Dense{Name: "big", Units: 1e9}}}
	wide := Model{Input: []int64{64, 64, 3}, Layers: []Layer{
		Conv2D{Name: "c", Filters: 1 << 20, Kernel: [2]int{3, 3}}, Flatten{Name: "f"}, Dense{Name: "d", Units: 2}}}
	for _, tc := range []struct {
		name string
		run  func() error
		want []string
	}{
		{"config units 1e9", func() error {
			_, err := ParseConfig(strings.NewReader("inputs: 10\nlayers: [{type: dense, name: big, units: 1e9}]\n"))
			return err
		}, []string{"model: too large to train: layer big needs 536.4 GiB (11000000000 parameters)", "more than the 1.0 GiB available (the cap set with models.SetMemoryLimit)"}},
		{"config synthetic data", func() error {
			_, err := ParseConfig(strings.NewReader("inputs: 10000000\ndata: {examples: 1000}\nlayers: [{type: dense, name: d, units: 2}]\n"))
			return err
		}, []string{"model: too large to train: layer d needs", "37.3 GiB of data), more than the 1.0 GiB available"}},
		{"InitialWeights", func() error {
			_, err := big.InitialWeights(nil, 1)
			return err
		}, []string{"model: too large to run: layer big needs 85.7 GiB (11000000000 parameters)", "8 bytes per parameter"}},
		{"training build", func() error {
			g := tfgraph.NewGraph()
			x := g.Placeholder("x", tf.Float, []int64{32, 64, 64, 3})
			_, err := wide.Build(NewBuilder(qat.NewEnv(g, true, nil), nil, nil, 1), x)
			return err
		}, []string{"model: too large to train: layer c needs 480.9 GiB (29360128 parameters)", "a batch of 32", "more than the 1.0 GiB available"}},
		{"synthetic", func() error {
			_, err := Synthetic(1000, 1e9, 10, 1)
			return err
		}, []string{"synthetic data: 1000 examples of 1000000000 inputs and 10 classes need 3.6 TiB, more than the 1.0 GiB available"}},
		{"flatten overflow", func() error {
			_, err := Flatten{Name: "f"}.OutputShape([]int64{1 << 40, 1 << 40})
			return err
		}, []string{"layer f: input shape [1099511627776 1099511627776] has more than 2^63 values"}},
		{"model output overflow", func() error {
			m := Model{Input: []int64{1 << 31, 1 << 31, 1}, Layers: []Layer{Conv2D{Name: "c", Filters: 1 << 31, Kernel: [2]int{1, 1}}}}
			return m.Validate()
		}, []string{"model: layer c: output shape [2147483648 2147483648 2147483648] has more than 2^63 values"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			err := tc.run()
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if took > time.Second {
				t.Errorf("took %v; the sizes alone should refuse it", took)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("allocated %d bytes before refusing", n)
			}
		})
	}
}

// TestBatchNormMessages checks that a batch norm's errors name only the
// setting that is wrong.
func TestBatchNormMessages(t *testing.T) {
	for _, tc := range []struct {
		bn           BatchNorm
		want, absent string
	}{
		{BatchNorm{Name: "bn", Momentum: 2}, "layer bn: momentum 2 must be in [0, 1) (0: the default, 0.99)", "epsilon"},
		{BatchNorm{Name: "bn", Momentum: math.NaN()}, "layer bn: momentum NaN must be in [0, 1)", "epsilon"},
		{BatchNorm{Name: "bn", Epsilon: -1}, "layer bn: epsilon -1 must be finite and >= 0 (0: the default, 0.001)", "momentum"},
		{BatchNorm{Name: "bn", Epsilon: math.Inf(1)}, "layer bn: epsilon +Inf must be finite and >= 0", "momentum"},
	} {
		_, err := tc.bn.OutputShape([]int64{4})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.absent) {
			t.Errorf("%+v: error %v, want one containing %q and not %q", tc.bn, err, tc.want, tc.absent)
		}
	}
}

// TestCgroupFiles reads cgroup v2 and v1 limits from fake folders: the
// room is the limit less the memory in use, the inactive page cache not
// counted; no limit is no answer.
func TestCgroupFiles(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		files                  map[string]string
		limit, usage, inactive string
		want                   int64
		ok                     bool
	}{
		{"v2 limit", map[string]string{"memory.max": "1000\n", "memory.current": "700\n", "memory.stat": "anon 100\ninactive_file 300\nactive_file 5\n"},
			"memory.max", "memory.current", "inactive_file", 600, true},
		{"v2 unlimited", map[string]string{"memory.max": "max\n", "memory.current": "700\n"}, "memory.max", "memory.current", "inactive_file", 0, false},
		{"v2 over", map[string]string{"memory.max": "1000\n", "memory.current": "1700\n"}, "memory.max", "memory.current", "inactive_file", 0, true},
		{"v1 limit", map[string]string{"memory.limit_in_bytes": "4096\n", "memory.usage_in_bytes": "1024\n", "memory.stat": "total_inactive_file 24\n"},
			"memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file", 3096, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := cgroupFiles(dir, tc.limit, tc.usage, tc.inactive)
			if got != tc.want || ok != tc.ok {
				t.Errorf("cgroupFiles = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
