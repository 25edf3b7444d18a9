package tfgraph

import (
	"encoding/binary"
	"math"
	"runtime"
	"slices"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
)

// TestReleaseLayout checks that Release reads graft's Tensor as graft
// lays it out: the C tensor it finds has the tensor's shape, size and
// values.
func TestReleaseLayout(t *testing.T) {
	want := []float32{1.5, -2, 3.25, 4, 5, 6}
	x, err := tf.NewTensor([][]float32{want[:3], want[3:]})
	if err != nil {
		t.Fatal(err)
	}
	dims, n, raw := cTensor(x)
	if !slices.Equal(dims, []int64{2, 3}) || n != 24 || !slices.Equal(dims, x.Shape()) {
		t.Fatalf("graft's Tensor: the C tensor found has dims %v and %d bytes, want [2 3] and 24", dims, n)
	}
	for i, w := range want {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != w {
			t.Fatalf("value %d is %v in the C tensor found, want %v", i, got, w)
		}
	}
}

// TestRelease frees tensors made by NewTensor and by a session run, twice
// and with nil among them, and the collector's later finalizers do not
// free them again (a double free would abort the process).
func TestRelease(t *testing.T) {
	g := NewGraph()
	in := g.Placeholder("x", tf.Float, []int64{-1})
	out := g.Mul("y", in, g.Scalar("two", 2))
	sess, err := NewSession(g, SessionConfig{IntraOpThreads: 1, InterOpThreads: 1}) // the first session fixes the process's pools: one thread, as the other tests
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for range 100 {
		x, err := NewTensor([]int64{1 << 14}, make([]float32, 1<<14))
		if err != nil {
			t.Fatal(err)
		}
		res, err := sess.Run(map[tf.Output]*tf.Tensor{in: x}, []tf.Output{out}, nil)
		if err != nil {
			t.Fatal(err)
		}
		Release(x, nil, res[0])
		Release(x)
		if dims, _, _ := cTensor(x); dims != nil {
			t.Fatalf("a released tensor still holds a C tensor of dims %v", dims)
		}
	}
	runtime.GC()
	runtime.GC()
}
