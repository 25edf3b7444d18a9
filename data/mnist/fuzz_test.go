package mnist

import (
	"bytes"
	"testing"
)

// FuzzReadIDX feeds readIDX arbitrary idx contents, gzipped (so the fuzzer
// reaches the header and data checks past the gzip checksum) and as they
// are (the gzip layer's own checks). Either way it must return an idx
// whose data matches its dimensions, or an error: never panic or allocate
// what a header announces. The corpus in testdata/fuzz/FuzzReadIDX runs
// with plain go test.
func FuzzReadIDX(f *testing.F) {
	images, labels := tiny(f)
	f.Add([]byte("\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\xff\x33\x66\x01\x02\x03\x04\x05\x06\x07\x08"), true)
	f.Add([]byte("\x00\x00\x08\x01\x00\x00\x00\x03\x09\x00\x04"), false)
	f.Add([]byte("\x00\x00\x08\x03\x00\x0f\x42\x40\x00\x00\x00\x1c\x00\x00\x00\x1c\x00"), true)
	f.Add(images, true)
	f.Add(labels, false)
	f.Fuzz(func(t *testing.T, raw []byte, isImages bool) {
		magic := uint32(labelsMagic)
		if isImages {
			magic = imagesMagic
		}
		for _, file := range [][]byte{gz(t, raw), raw} {
			got, err := readIDX("f.gz", bytes.NewReader(file), magic)
			if err != nil {
				continue
			}
			size := 1
			for _, d := range got.dims {
				size *= d
			}
			if len(got.dims) != int(magic&0xff) || size != len(got.data) {
				t.Fatalf("dims %v with %d bytes of data", got.dims, len(got.data))
			}
		}
	})
}
