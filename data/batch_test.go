package data

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// indexed returns n examples with x[i] = [i, i+0.5] as X [n, 1, 2, 1] and
// y[i] = [i] as Y [n, 1], so every row says which example it is.
func indexed(n int) Dataset {
	x := make([]float32, 2*n)
	y := make([]float32, n)
	for i := range n {
		x[2*i], x[2*i+1] = float32(i), float32(i)+0.5
		y[i] = float32(i)
	}
	return Dataset{
		X: Array{Shape: []int64{int64(n), 1, 2, 1}, Data: x},
		Y: Array{Shape: []int64{int64(n), 1}, Data: y},
	}
}

// ids checks that the rows of x and y belong together and returns the
// example numbers of a batch of indexed data.
func ids(t *testing.T, x, y Array, batch int) []int {
	t.Helper()
	if want := []int64{int64(batch), 1, 2, 1}; !reflect.DeepEqual(x.Shape, want) {
		t.Fatalf("x shape %v, want %v", x.Shape, want)
	}
	if want := []int64{int64(batch), 1}; !reflect.DeepEqual(y.Shape, want) {
		t.Fatalf("y shape %v, want %v", y.Shape, want)
	}
	out := make([]int, batch)
	for i := range out {
		id := y.Data[i]
		if x.Data[2*i] != id || x.Data[2*i+1] != id+0.5 {
			t.Fatalf("row %d: x = %v does not match y = %v", i, x.Data[2*i:2*i+2], id)
		}
		out[i] = int(id)
	}
	return out
}

// draw returns the example numbers of the next steps batches of b.
func draw(t *testing.T, b *Batcher, steps int) [][]int {
	t.Helper()
	var out [][]int
	for range steps {
		x, y := b.Next()
		out = append(out, ids(t, x, y, b.batch))
	}
	return out
}

func newBatcher(t *testing.T, d Dataset, batch int, seed uint64) *Batcher {
	t.Helper()
	b, err := NewBatcher(d, batch, seed)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBatcherSeed(t *testing.T) {
	d := indexed(50)
	a := draw(t, newBatcher(t, d, 7, 42), 30)
	if b := draw(t, newBatcher(t, d, 7, 42), 30); !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different batches:\n%v\n%v", a, b)
	}
	if c := draw(t, newBatcher(t, d, 7, 43), 30); reflect.DeepEqual(a, c) {
		t.Fatalf("seeds 42 and 43 give the same batches: %v", a)
	}
}

func TestBatcherEpochs(t *testing.T) {
	for _, tc := range []struct{ n, batch, steps int }{
		{12, 3, 4},
		{10, 3, 3}, // one example left over per epoch
		{5, 5, 1},
		{5, 1, 5},
		{1, 1, 1},
	} {
		const seed = 9
		b := newBatcher(t, indexed(tc.n), tc.batch, seed)
		if got := b.StepsPerEpoch(); got != tc.steps {
			t.Fatalf("n=%d batch=%d: %d steps per epoch, want %d", tc.n, tc.batch, got, tc.steps)
		}
		for epoch := range 4 {
			if s := b.State(); s != (BatchState{Epoch: epoch}) {
				t.Fatalf("n=%d batch=%d: state %+v at the start of epoch %d", tc.n, tc.batch, s, epoch)
			}
			var seen []int
			for _, batch := range draw(t, b, tc.steps) {
				seen = append(seen, batch...)
			}
			// The epoch's order is PCG(seed, epoch).Perm(n), cut after
			// steps full batches.
			want := rand.New(rand.NewPCG(seed, uint64(epoch))).Perm(tc.n)[:tc.steps*tc.batch]
			if !reflect.DeepEqual(seen, want) {
				t.Fatalf("n=%d batch=%d epoch %d: order %v, want %v", tc.n, tc.batch, epoch, seen, want)
			}
			count := make(map[int]int)
			for _, id := range seen {
				count[id]++
				if count[id] > 1 {
					t.Fatalf("n=%d batch=%d epoch %d: example %d seen twice: %v", tc.n, tc.batch, epoch, id, seen)
				}
			}
			if tc.n%tc.batch == 0 && len(count) != tc.n {
				t.Fatalf("n=%d batch=%d epoch %d: %d distinct examples, want all %d", tc.n, tc.batch, epoch, len(count), tc.n)
			}
		}
	}
}

func TestBatcherEpochsDiffer(t *testing.T) {
	b := newBatcher(t, indexed(20), 20, 1)
	first := draw(t, b, 1)
	if second := draw(t, b, 1); reflect.DeepEqual(first, second) {
		t.Fatalf("epochs 0 and 1 have the same order %v", first)
	}
}

func TestBatcherResume(t *testing.T) {
	d := indexed(23)
	const batch, seed = 4, 5 // 5 steps per epoch
	all := draw(t, newBatcher(t, d, batch, seed), 17)
	for _, k := range []int{0, 1, 4, 5, 6, 12, 16} {
		b := newBatcher(t, d, batch, seed)
		draw(t, b, k)
		s := b.State()
		if want := (BatchState{Epoch: k / 5, Index: k % 5}); s != want {
			t.Fatalf("after %d batches: state %+v, want %+v", k, s, want)
		}
		// A fresh Batcher set to s, and b itself after going elsewhere
		// and back, both continue as the uninterrupted run.
		c := newBatcher(t, d, batch, seed)
		if err := c.SetState(s); err != nil {
			t.Fatal(err)
		}
		if got := draw(t, c, 17-k); !reflect.DeepEqual(got, all[k:]) {
			t.Fatalf("resumed at %+v: %v, want %v", s, got, all[k:])
		}
		if err := b.SetState(BatchState{Epoch: 7, Index: 3}); err != nil {
			t.Fatal(err)
		}
		draw(t, b, 2)
		if err := b.SetState(s); err != nil {
			t.Fatal(err)
		}
		if got := draw(t, b, 17-k); !reflect.DeepEqual(got, all[k:]) {
			t.Fatalf("set back to %+v: %v, want %v", s, got, all[k:])
		}
	}
}

func TestBatcherCopies(t *testing.T) {
	d := indexed(6)
	b := newBatcher(t, d, 3, 0)
	x, y := b.Next()
	for i := range x.Data {
		x.Data[i] = -1
	}
	for i := range y.Data {
		y.Data[i] = -1
	}
	if !reflect.DeepEqual(d, indexed(6)) {
		t.Fatal("writing to a batch changed the data set")
	}
	x.Shape[0] = 99
	if d.X.Shape[0] != 6 {
		t.Fatal("the batch shares its shape with the data set")
	}
}

func TestNewBatcherErrors(t *testing.T) {
	good := indexed(4)
	for _, tc := range []struct {
		name  string
		d     Dataset
		batch int
		want  string
	}{
		{"zero batch", good, 0, "batch size 0"},
		{"negative batch", good, -2, "batch size -2"},
		{"batch above N", good, 5, "batch size 5: need 1 <= batch size <= 4"},
		{"empty", Dataset{}, 1, "x has no shape"},
		{"zero examples", Dataset{X: Array{Shape: []int64{0, 2}}, Y: Array{Shape: []int64{0, 1}}}, 1, "every dimension > 0"},
		{"mismatched N", Dataset{X: good.X, Y: Array{Shape: []int64{3, 1}, Data: make([]float32, 3)}}, 1, "x has 4 examples and y has 3"},
		{"x data too short", Dataset{X: Array{Shape: good.X.Shape, Data: good.X.Data[:7]}, Y: good.Y}, 1, "x has 7 values"},
		{"y data too long", Dataset{X: good.X, Y: Array{Shape: good.Y.Shape, Data: make([]float32, 5)}}, 1, "y has 5 values, its shape [4 1] needs 4"},
		{"negative dimension", Dataset{X: Array{Shape: []int64{4, -2}, Data: make([]float32, 8)}, Y: good.Y}, 1, "every dimension > 0"},
		{"huge dimensions", Dataset{X: Array{Shape: []int64{4, 1 << 62, 1 << 62}, Data: make([]float32, 8)}, Y: good.Y}, 1, "too few for its shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBatcher(tc.d, tc.batch, 1)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want an error containing %q", b, err, tc.want)
			}
		})
	}
}

func TestSetStateErrors(t *testing.T) {
	b := newBatcher(t, indexed(10), 3, 1) // 3 steps per epoch
	for _, s := range []BatchState{{-1, 0}, {0, -1}, {0, 3}, {2, 10}} {
		if err := b.SetState(s); err == nil {
			t.Errorf("SetState(%+v): no error", s)
		}
	}
	if s := b.State(); s != (BatchState{}) {
		t.Fatalf("a failed SetState moved the batcher to %+v", s)
	}
	if err := b.SetState(BatchState{Epoch: 1 << 40, Index: 2}); err != nil {
		t.Fatal(err)
	}
}

func TestDatasetSlice(t *testing.T) {
	d := indexed(10)
	if d.Len() != 10 || (Dataset{}).Len() != 0 {
		t.Fatalf("Len: %d and %d, want 10 and 0", d.Len(), (Dataset{}).Len())
	}
	for _, tc := range []struct{ from, to int }{{0, 10}, {0, 1}, {3, 7}, {9, 10}} {
		s, err := d.Slice(tc.from, tc.to)
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != tc.to-tc.from {
			t.Fatalf("Slice(%d, %d) has %d examples", tc.from, tc.to, s.Len())
		}
		got := ids(t, s.X, s.Y, tc.to-tc.from)
		for i, id := range got {
			if id != tc.from+i {
				t.Fatalf("Slice(%d, %d) = examples %v", tc.from, tc.to, got)
			}
		}
	}
	s, err := d.Slice(2, 4)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(s.X.Data, -1)
	_ = append(s.Y.Data, -1)
	if !reflect.DeepEqual(d, indexed(10)) {
		t.Fatal("appending to a slice changed the data set")
	}
	for _, tc := range []struct {
		d        Dataset
		from, to int
		want     string
	}{
		{d, -1, 3, "need 0 <= from < to <= 10"},
		{d, 3, 3, "need 0 <= from < to"},
		{d, 5, 2, "need 0 <= from < to"},
		{d, 0, 11, "slice [0, 11) of 10 examples"},
		{Dataset{}, 0, 1, "x has no shape"},
	} {
		if _, err := tc.d.Slice(tc.from, tc.to); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Slice(%d, %d): got %v, want an error containing %q", tc.from, tc.to, err, tc.want)
		}
	}
}
