package qat_test

import (
	"math"
	"strings"
	"testing"

	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

func TestFixedRangeValidate(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	tests := []struct {
		name string
		q    qat.FixedRange
		want string // substring of the error; "" = valid
	}{
		{"article weights", qat.Symmetric(0.1), ""},
		{"2 bits narrow", qat.FixedRange{Min: -1, Max: 1, NumBits: 2, NarrowRange: true}, ""},
		{"16 bits", qat.FixedRange{Min: 0, Max: 6, NumBits: 16}, ""},
		{"1 bit", qat.FixedRange{Min: -1, Max: 1, NumBits: 1}, "num_bits 1 is outside 2..16"},
		{"17 bits", qat.FixedRange{Min: -1, Max: 1, NumBits: 17}, "num_bits 17 is outside 2..16"},
		{"zero bits", qat.FixedRange{Min: -1, Max: 1}, "num_bits 0 is outside 2..16"},
		{"min == max", qat.FixedRange{Min: 1, Max: 1, NumBits: 8}, "min must be < max"},
		{"min > max", qat.FixedRange{Min: 2, Max: -2, NumBits: 8}, "min must be < max"},
		{"NaN min", qat.FixedRange{Min: nan, Max: 1, NumBits: 8}, "not finite"},
		{"NaN max", qat.FixedRange{Min: -1, Max: nan, NumBits: 8}, "not finite"},
		{"inf max", qat.FixedRange{Min: -1, Max: inf, NumBits: 8}, "not finite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.q.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// An invalid quantizer must stop graph building with an error, before any
// FakeQuant op reaches TensorFlow.
func TestApplyInvalidRangeBuildsNothing(t *testing.T) {
	g := tfgraph.NewGraph()
	x := g.Const("x", []float32{1, 2})
	y := qat.FixedRange{Min: 1, Max: -1, NumBits: 8}.Apply(qat.NewEnv(g, true, nil), "wq", x)
	if y.Op != nil {
		t.Fatal("Apply returned an output for an invalid range")
	}
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "quantizer wq") {
		t.Fatalf("graph error = %v, want one naming quantizer wq", err)
	}
	if _, err := tfgraph.NewSession(g, tfgraph.SessionConfig{}); err == nil {
		t.Fatal("NewSession accepted a graph with a build error")
	}
}

// stepOut returns the next float32 after v in direction dir, skipping
// subnormals: TensorFlow's CPU threads flush them to zero, so -1e-45 counts
// as 0 inside a range that starts at 0.
func stepOut(v float32, dir float32) float32 {
	const smallestNormal = 0x1p-126
	n := math.Nextafter32(v, dir*float32(math.Inf(1)))
	if n != 0 && math.Abs(float64(n)) < smallestNormal {
		return dir * smallestNormal
	}
	return n
}

// Nudge must agree with TensorFlow's kernel: the input gradient of
// FakeQuantWithMinMaxVars passes exactly on [nudged_min, nudged_max] and
// stops one float32 step outside it.
func TestNudgeMatchesKernel(t *testing.T) {
	for _, q := range []qat.FixedRange{qat.Symmetric(0.1), {Min: -0.3, Max: 2.7, NumBits: 4}, {Min: 0.2, Max: 1.5, NumBits: 2}, {Min: -6, Max: 6, NumBits: 8, NarrowRange: true}} {
		nmin, nmax, _ := qat.Nudge(q.Min, q.Max, q.NumBits, q.NarrowRange)
		in := []float32{nmin, nmax, stepOut(nmin, -1), stepOut(nmax, 1)}
		g := tfgraph.NewGraph()
		op := g.Op("FakeQuantWithMinMaxVarsGradient", "g", []any{g.Const("up", []float32{1, 1, 1, 1}), g.Const("x", in),
			g.Scalar("min", q.Min), g.Scalar("max", q.Max)}, map[string]any{"num_bits": int64(q.NumBits), "narrow_range": q.NarrowRange})
		s, err := tfgraph.NewSession(g, tfgraph.SessionConfig{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(nil, []tf.Output{op.Output(0)}, nil)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := out[0].Value().([]float32)
		if want := []float32{1, 1, 0, 0}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
			t.Errorf("%+v: gradient mask at [nmin, nmax, below, above] = %v, want %v (nudged [%v, %v])", q, got, want, nmin, nmax)
		}
	}
}
