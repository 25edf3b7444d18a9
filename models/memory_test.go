package models

import (
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// withMemoryLimit sets SetMemoryLimit for one test.
func withMemoryLimit(t *testing.T, limit int64) {
	prev := data.SetMemoryLimit(limit)
	t.Cleanup(func() { data.SetMemoryLimit(prev) })
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

// TestHugeModelsFailFast builds models far larger than memory through
// every path that allocates (Config validation, InitialWeights, a training
// Build as loop.NewTrainer does, synthetic data): each fails at once with
// an error naming the layer and the bytes, without allocating.
func TestHugeModelsFailFast(t *testing.T) {
	withMemoryLimit(t, 1<<30) // 1 GiB, so the test means the same on any machine
	big := Model{Input: []int64{10}, Layers: []layers.Layer{layers.Dense{Name: "big", Units: 1e9}}}
	wide := Model{Input: []int64{64, 64, 3}, Layers: []layers.Layer{
		layers.Conv2D{Name: "c", Filters: 1 << 20, Kernel: [2]int{3, 3}}, layers.Flatten{Name: "f"}, layers.Dense{Name: "d", Units: 2}}}
	for _, tc := range []struct {
		name string
		run  func() error
		want []string
	}{
		{"config units 1e9", func() error {
			_, err := ParseConfig(strings.NewReader("inputs: 10\nlayers: [{type: dense, name: big, units: 1e9}]\n"))
			return err
		}, []string{"model: too large to train: layer big needs 536.4 GiB (11000000000 parameters)", "more than the 1.0 GiB available (the cap set with data.SetMemoryLimit)"}},
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
			_, err := wide.Build(layers.NewBuilder(qat.NewEnv(g, true, nil), nil, nil, 1), x)
			return err
		}, []string{"model: too large to train: layer c needs 480.9 GiB (29360128 parameters)", "a batch of 32", "more than the 1.0 GiB available"}},
		{"synthetic", func() error {
			_, err := data.Synthetic(1000, 1e9, 10, 1)
			return err
		}, []string{"synthetic data: 1000 examples of 1000000000 inputs and 10 classes need 3.6 TiB, more than the 1.0 GiB available"}},
		{"flatten overflow", func() error {
			_, err := layers.Flatten{Name: "f"}.OutputShape([]int64{1 << 40, 1 << 40})
			return err
		}, []string{"layer f: input shape [1099511627776 1099511627776] has more than 2^63 values"}},
		{"model output overflow", func() error {
			m := Model{Input: []int64{1 << 31, 1 << 31, 1}, Layers: []layers.Layer{layers.Conv2D{Name: "c", Filters: 1 << 31, Kernel: [2]int{1, 1}}}}
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
		bn           layers.BatchNorm
		want, absent string
	}{
		{layers.BatchNorm{Name: "bn", Momentum: 2}, "layer bn: momentum 2 must be in [0, 1) (0: the default, 0.99)", "epsilon"},
		{layers.BatchNorm{Name: "bn", Momentum: math.NaN()}, "layer bn: momentum NaN must be in [0, 1)", "epsilon"},
		{layers.BatchNorm{Name: "bn", Epsilon: -1}, "layer bn: epsilon -1 must be finite and >= 0 (0: the default, 0.001)", "momentum"},
		{layers.BatchNorm{Name: "bn", Epsilon: math.Inf(1)}, "layer bn: epsilon +Inf must be finite and >= 0", "momentum"},
	} {
		_, err := tc.bn.OutputShape([]int64{4})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.absent) {
			t.Errorf("%+v: error %v, want one containing %q and not %q", tc.bn, err, tc.want, tc.absent)
		}
	}
}
