package models

import (
	"math"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/measure"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// rangesFor returns [-1, 1] for every quantizer range m builds.
func rangesFor(t *testing.T, m Model, w data.Weights) data.Weights {
	t.Helper()
	g := tfgraph.NewGraph()
	env := qat.NewEnv(g, false, nil)
	if _, err := m.Build(layers.NewBuilder(env, m.Scheme, w, 0), g.Placeholder("x", tf.Float, append([]int64{-1}, m.Input...))); err != nil {
		t.Fatal(err)
	}
	r := data.Weights{}
	for _, v := range env.RangeVariables() {
		a := data.Array{Shape: v.Shape, Data: make([]float32, elementsOf(t, v.Shape))}
		for i := range a.Data {
			a.Data[i] = 1
			if strings.HasSuffix(v.Name, "_min") {
				a.Data[i] = -1
			}
		}
		r[v.Name] = a
	}
	return r
}

// TestBuildInferenceRanges: a quantizer whose stored range has min > max,
// or a NaN or infinite end, is an error naming the quantizer (and the
// channel), for export and evaluation alike.
func TestBuildInferenceRanges(t *testing.T) {
	m := SmallCNN(qat.Default8Bit())
	w, err := m.InitialWeights(nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	good := rangesFor(t, m, w)
	if _, err := BuildInference(m, "x", w, good); err != nil {
		t.Fatal(err)
	}
	var scalar, channels string // a per-tensor and a per-channel quantizer
	for _, n := range good.Names() {
		if q, ok := strings.CutSuffix(n, "_min"); ok {
			if len(good[n].Shape) == 0 && scalar == "" {
				scalar = q
			} else if len(good[n].Shape) == 1 && good[n].Shape[0] > 2 && channels == "" {
				channels = q
			}
		}
	}
	if scalar == "" || channels == "" {
		t.Fatalf("no per-tensor or no per-channel quantizer among %v", good.Names())
	}
	set := func(name string, i int, v float32) data.Weights {
		r := data.Weights{}
		for k, a := range good {
			r[k] = a
		}
		a := data.Array{Shape: good[name].Shape, Data: append([]float32(nil), good[name].Data...)}
		a.Data[i] = v
		r[name] = a
		return r
	}
	for _, tc := range []struct {
		name   string
		ranges data.Weights
		want   string
	}{
		{"min > max", set(scalar+"_min", 0, 3), "ranges: quantizer " + scalar + " has min 3 > max 1"},
		{"max < min", set(scalar+"_max", 0, -2), "ranges: quantizer " + scalar + " has min -1 > max -2"},
		{"NaN min", set(scalar+"_min", 0, float32(math.NaN())), "ranges: quantizer " + scalar + " has range [NaN, 1]; want finite values"},
		{"infinite max", set(scalar+"_max", 0, float32(math.Inf(1))), "ranges: quantizer " + scalar + " has range [-1, +Inf]; want finite values"},
		{"one channel", set(channels+"_max", 2, -1.5), "ranges: quantizer " + channels + " (channel 2) has min -1 > max -1.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := BuildInference(m, "x", w, tc.ranges)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// elementsOf is the number of values of shape.
func elementsOf(t *testing.T, shape []int64) int64 {
	t.Helper()
	n, err := measure.Elements(shape)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
