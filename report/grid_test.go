package report

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// fakeQuant runs TensorFlow's FakeQuantWithMinMaxVars (or its
// PerChannel kernel, for more than one channel) on x laid out [n, ch].
func fakeQuant(t *testing.T, x, lo, hi []float32, bits int, narrow bool) []float32 {
	t.Helper()
	g := tfgraph.NewGraph()
	ch := int64(len(lo))
	xs := make([][]float32, 0, len(x)/int(ch))
	for i := 0; i < len(x); i += int(ch) {
		xs = append(xs, x[i:i+int(ch)])
	}
	in := g.Const("x", xs)
	a := tfgraph.FakeQuantAttrs{NumBits: bits, NarrowRange: narrow}
	var out tf.Output
	if ch == 1 {
		out = g.FakeQuantWithMinMaxVars("fq", in, g.Scalar("min", lo[0]), g.Scalar("max", hi[0]), a)
	} else {
		out = g.FakeQuantWithMinMaxVarsPerChannel("fq", in, g.Const("min", lo), g.Const("max", hi), a)
	}
	s, err := tfgraph.NewSession(g, tfgraph.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(nil, []tf.Output{out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var flat []float32
	for _, row := range res[0].Value().([][]float32) {
		flat = append(flat, row...)
	}
	return flat
}

// Grid's levels are TensorFlow's: for every value, the level Code picks
// has the float value (Value) that TF's FakeQuant kernel outputs, bit for
// bit, and Usage counts the distinct outputs per channel TF gives.
func TestGridMatchesFakeQuant(t *testing.T) {
	for _, tt := range []struct {
		name   string
		lo, hi []float32
		bits   int
		narrow bool
	}{
		{"8-bit symmetric narrow", []float32{-0.21}, []float32{0.21}, 8, true},
		{"8-bit asymmetric", []float32{-0.3}, []float32{2.7}, 8, false},
		{"4-bit", []float32{-1.1}, []float32{0.4}, 4, false},
		{"2-bit narrow", []float32{0.2}, []float32{1.5}, 2, true},
		{"per channel 8-bit narrow", []float32{-0.1, -0.5, -0.02}, []float32{0.1, 0.5, 0.02}, 8, true},
		{"per channel 4-bit", []float32{-1, 0, -3}, []float32{0.5, 2, -1}, 4, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			ch := len(tt.lo)
			x := make([]float32, 600*ch)
			for i := range x {
				c := i % ch
				span := tt.hi[c] - tt.lo[c]
				x[i] = tt.lo[c] - span/10 + float32(r.Float64())*span*1.2 // some outside the range
			}
			g, err := NewGrid(tt.lo, tt.hi, tt.bits, tt.narrow, ch > 1)
			if err != nil {
				t.Fatal(err)
			}
			want := fakeQuant(t, x, tt.lo, tt.hi, tt.bits, tt.narrow)
			distinct := map[[2]uint32]bool{}
			clipped := 0
			for i, v := range x {
				c := i % ch
				if got := g.Value(g.Code(v, c), c); math.Float32bits(got) != math.Float32bits(want[i]) {
					t.Fatalf("x[%d] = %v (channel %d): level %d is %v, TF's FakeQuant gives %v", i, v, c, g.Code(v, c), got, want[i])
				}
				distinct[[2]uint32{uint32(c), math.Float32bits(want[i])}] = true
				if v < g.Min[c] || v > g.Max[c] {
					clipped++
				}
			}
			u, err := g.Usage(x)
			if err != nil {
				t.Fatal(err)
			}
			if u.Used != len(distinct) || u.Clipped != clipped || u.Channels != ch {
				t.Errorf("usage %+v, want %d levels used (TF's distinct outputs), %d clipped, %d channels", u, len(distinct), clipped, ch)
			}
			if levels := 1<<tt.bits - b2i(tt.narrow); u.Levels != levels {
				t.Errorf("%d levels, want %d", u.Levels, levels)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestNewGridErrors(t *testing.T) {
	for _, tt := range []struct {
		lo, hi []float32
		bits   int
		want   string
	}{
		{[]float32{0}, []float32{1}, 1, "num_bits 1 is outside 2..16"},
		{[]float32{0, 1}, []float32{1}, 8, "2 min values and 1 max values"},
		{[]float32{0, 2}, []float32{1, 1}, 8, "channel 1: "},
	} {
		_, err := NewGrid(tt.lo, tt.hi, tt.bits, false, false)
		if err == nil || !contains(err.Error(), tt.want) {
			t.Errorf("NewGrid(%v, %v, %d): %v, want an error with %q", tt.lo, tt.hi, tt.bits, err, tt.want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
