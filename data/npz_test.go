package data

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestNPZRoundTrip(t *testing.T) {
	in := map[string]Array{
		"a/kernel": {Shape: []int64{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		"bias":     {Shape: []int64{3}, Data: []float32{-1, 0.5, 7}},
		"conv":     {Shape: []int64{2, 1, 2, 2}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8}},
	}
	path := filepath.Join(t.TempDir(), "w.npz")
	if err := WriteNPZ(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: got %v, want %v", out, in)
	}
}
