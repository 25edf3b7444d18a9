package data

import (
	"bytes"
	"testing"
)

// FuzzReadNPZ feeds the .npz reader arbitrary files (asMember false) and
// arbitrary .npy members inside a well-formed zip (asMember true, so the
// fuzzer reaches the header parser past the zip's CRC-32). It must return
// arrays whose data fill their shapes, or an error: never panic, and never
// allocate more than the file holds (the budget is small here so that a
// huge declared size is refused and each run stays cheap). The corpus in
// testdata/fuzz/FuzzReadNPZ runs with plain go test.
func FuzzReadNPZ(f *testing.F) {
	saved := SetMemoryLimit(16 << 20)
	f.Cleanup(func() { SetMemoryLimit(saved) })
	f.Add(npy(x23, f32(1, 2, 3, 4, 5, 6)), true)
	f.Add(zipOf(f, member{name: "x.npy", data: npy(x23, f32(1, 2, 3, 4, 5, 6))}), false)
	f.Fuzz(func(t *testing.T, data []byte, asMember bool) {
		file := data
		if asMember {
			file = zipOf(t, member{name: "x.npy", data: data})
		}
		got, err := readNPZ(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			return
		}
		for k, a := range got {
			if n := product(a.Shape); n != int64(len(a.Data)) || 4*n > 16<<20 {
				t.Fatalf("%s: shape %v with %d values", k, a.Shape, len(a.Data))
			}
		}
	})
}
