package loop_test

import (
	"math"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

// Quantizers lists the inference graph's quantizers with the ranges of
// Ranges, and for weights the FakeQuant output: each value the float
// weight clamped to the nudged range and rounded to the nearest grid
// point, as TensorFlow's kernel computes it.
func TestQuantizers(t *testing.T) {
	c, err := models.ParseConfig(strings.NewReader(`input: [8, 8, 1]
scheme: {input_bits: 8, default: {weight_bits: 8, activation_bits: 8}}
layers:
  - {type: conv2d, name: c, filters: 4, kernel: [3, 3], activation: relu}
  - {type: flatten, name: f}
  - {type: dense, name: d, units: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Model()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.Synthetic(16, 64, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	ds.X.Shape = []int64{16, 8, 8, 1}
	cfg := loop.DefaultConfig()
	cfg.BatchSize = 8
	tr, err := loop.NewTrainer(m, ds, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for range 3 {
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
	qs, err := tr.Quantizers()
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := tr.Ranges()
	if err != nil {
		t.Fatal(err)
	}
	weights, err := tr.Weights()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var quantizedWeights []string
	for _, q := range qs {
		lo, hi := ranges[q.Name+"_min"], ranges[q.Name+"_max"]
		sameFloats(t, q.Name+" min", q.Min, lo.Data)
		sameFloats(t, q.Name+" max", q.Max, hi.Data)
		seen[q.Name+"_min"], seen[q.Name+"_max"] = true, true
		w, isWeight := weights[q.Name]
		if q.Weight != isWeight {
			t.Errorf("%s: Weight %v, want %v", q.Name, q.Weight, isWeight)
		}
		if want := q.Name == "c/kernel"; q.PerChannel != want || q.NumBits != 8 || q.NarrowRange != isWeight {
			t.Errorf("%s: per channel %v, %d bits, narrow %v; want %v, 8, %v", q.Name, q.PerChannel, q.NumBits, q.NarrowRange, want, isWeight)
		}
		if !isWeight {
			continue
		}
		quantizedWeights = append(quantizedWeights, q.Name)
		if len(q.Quantized) != len(w.Data) || len(q.QuantizedShape) != len(w.Shape) {
			t.Fatalf("%s: quantized %d values of shape %v, weight %v", q.Name, len(q.Quantized), q.QuantizedShape, w.Shape)
		}
		for i, v := range w.Data {
			ch := i % len(q.Min)
			nmin, nmax, scale := qat.Nudge(q.Min[ch], q.Max[ch], q.NumBits, q.NarrowRange)
			want := fakeQuant(v, q.Min[ch], q.Max[ch], nmin, nmax, scale, q.NumBits, q.NarrowRange)
			if q.Quantized[i] != want {
				t.Fatalf("%s[%d]: fake quant of %g is %g, want %g", q.Name, i, v, q.Quantized[i], want)
			}
		}
	}
	if strings.Join(quantizedWeights, " ") != "c/kernel d/kernel" {
		t.Errorf("quantized weights %v, want [c/kernel d/kernel]", quantizedWeights)
	}
	for name := range ranges {
		if !seen[name] {
			t.Errorf("range variable %s has no quantizer in Quantizers", name)
		}
	}
	if len(seen) != len(ranges) || len(ranges) == 0 {
		t.Errorf("Quantizers covers %d range variables, Ranges has %d", len(seen), len(ranges))
	}
}

// fakeQuant is TensorFlow's FakeQuant of v (fake_quant_ops_functor.h):
// v clamped to the nudged range, shifted to start at 0, times the
// reciprocal scale computed from the range, less the integer zero point,
// rounded half up, times the scale.
func fakeQuant(v, lo, hi, nmin, nmax, scale float32, bits int, narrow bool) float32 {
	levels := float32(int(1)<<bits - 1)
	if narrow {
		levels--
	}
	inv := levels / (hi - lo)
	zero := float32(math.Floor(float64(-nmin*inv + 0.5)))
	return float32(math.Floor(float64((min(max(v, nmin), nmax)-nmin)*inv-zero+0.5))) * scale
}

// The article's fixed ranges are named after their op scopes.
func TestQuantizersFixedRanges(t *testing.T) {
	m := models.Example3()
	ds, err := data.Synthetic(10, int(m.Input[0]), m.Classes(), 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := loop.NewTrainer(m, ds, nil, loop.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	qs, err := tr.Quantizers()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name     string
		weight   bool
		min, max float32
	}{
		{"layer1/weight_quant", true, -0.1, 0.1}, {"layer1/bias_quant", true, -0.1, 0.1}, {"layer1/output_quant", false, -1, 1},
		{"layer2/weight_quant", true, -0.1, 0.1}, {"layer2/bias_quant", true, -0.1, 0.1}, {"layer2/output_quant", false, -1, 1},
	}
	if len(qs) != len(want) {
		t.Fatalf("%d quantizers, want %d", len(qs), len(want))
	}
	for i, w := range want {
		q := qs[i]
		if q.Name != w.name || q.Weight != w.weight || q.PerChannel || q.NumBits != 8 ||
			len(q.Min) != 1 || q.Min[0] != w.min || len(q.Max) != 1 || q.Max[0] != w.max || (len(q.Quantized) > 0) != w.weight {
			t.Errorf("quantizer %d: %s weight %v [%v, %v] %d bits, %d quantized values; want %s weight %v [%g, %g] 8 bits",
				i, q.Name, q.Weight, q.Min, q.Max, q.NumBits, len(q.Quantized), w.name, w.weight, w.min, w.max)
		}
	}
}
