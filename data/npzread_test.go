package data

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/qat-go/qat/internal/oracle"
)

// npy returns an .npy file (format 1.0) with the given header dictionary
// and data; the header is padded as numpy pads it.
func npy(header string, data []byte) []byte {
	h := header + " "
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(data)
	return b.Bytes()
}

// f32 is the little-endian bytes of vals.
func f32(vals ...float32) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// member is one entry of a zip made by zipOf: stored, unless raw is set.
type member struct {
	name string
	data []byte
	// raw, if set, writes the entry as it is with this header (its
	// compressed bytes are data).
	raw *zip.FileHeader
}

func zipOf(t testing.TB, members ...member) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, m := range members {
		var err error
		if m.raw != nil {
			h := *m.raw
			h.Name = m.name
			fw, err := w.CreateRaw(&h)
			if err == nil {
				_, err = fw.Write(m.data)
			}
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		fw, err := w.CreateHeader(&zip.FileHeader{Name: m.name, Method: zip.Store})
		if err == nil {
			_, err = fw.Write(m.data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// deflated returns a raw zip header and the deflated bytes of data, with
// the declared uncompressed size and CRC-32 given (or data's when 0).
func deflated(t testing.TB, data []byte, size uint64, crc uint32) member {
	t.Helper()
	var b bytes.Buffer
	fw, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	fw.Close()
	if size == 0 {
		size = uint64(len(data))
	}
	if crc == 0 {
		crc = crc32.ChecksumIEEE(data)
	}
	return member{data: b.Bytes(), raw: &zip.FileHeader{Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(b.Len()), UncompressedSize64: size}}
}

func named(name string, m member) member { m.name = name; return m }

const x23 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

func TestReadNPZ(t *testing.T) {
	want := map[string]Array{
		"x":      {Shape: []int64{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		"d/f64":  {Shape: []int64{2}, Data: []float32{1.5, -2}},
		"big":    {Shape: []int64{2}, Data: []float32{1, 2}},
		"scalar": {Shape: []int64{}, Data: []float32{7}},
		"empty":  {Shape: []int64{0, 4}, Data: []float32{}},
		"zipped": {Shape: []int64{1, 2}, Data: []float32{3, 4}},
		"v2":     {Shape: []int64{1}, Data: []float32{9}},
	}
	f64 := make([]byte, 16)
	binary.LittleEndian.PutUint64(f64, math.Float64bits(1.5))
	binary.LittleEndian.PutUint64(f64[8:], math.Float64bits(-2))
	be := make([]byte, 8)
	binary.BigEndian.PutUint32(be, math.Float32bits(1))
	binary.BigEndian.PutUint32(be[4:], math.Float32bits(2))
	v2 := []byte("\x93NUMPY\x02\x00")
	h := "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(1L,)}\n"
	v2 = binary.LittleEndian.AppendUint32(v2, uint32(len(h)))
	v2 = append(append(v2, h...), f32(9)...)
	file := zipOf(t,
		member{name: "x.npy", data: npy(x23, f32(1, 2, 3, 4, 5, 6))},
		member{name: "d/f64.npy", data: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f64)},
		member{name: "big.npy", data: npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be)},
		member{name: "scalar.npy", data: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f32(7))},
		member{name: "empty.npy", data: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", nil)},
		named("zipped.npy", deflated(t, npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", f32(3, 4)), 0, 0)),
		member{name: "v2.npy", data: v2},
	)
	path := filepath.Join(t.TempDir(), "a.npz")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// TestReadNPZErrors is the catalogue of malformed .npz files: each gives
// an error naming the file (and the member) and saying what is wrong, and
// none allocates what a header or the zip directory announces.
func TestReadNPZErrors(t *testing.T) {
	defer SetMemoryLimit(SetMemoryLimit(4 << 30))
	gib := npy("{'descr': '<f4', 'fortran_order': False, 'shape': (268435456,), }", f32(1, 2, 3))
	good := npy(x23, f32(1, 2, 3, 4, 5, 6))
	hdr := func(h string) member { return member{name: "x.npy", data: npy(h, f32(1, 2, 3, 4, 5, 6))} }
	v2 := func(n uint32) member {
		b := binary.LittleEndian.AppendUint32([]byte("\x93NUMPY\x02\x00"), n)
		return member{name: "x.npy", data: append(b, "{}"...)}
	}
	corrupt := zipOf(t, member{name: "x.npy", data: good})
	corrupt[len(corrupt)-30] ^= 0xff // inside the end-of-directory record
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "not an .npz file (a zip of .npy arrays, as numpy.savez writes): zip: not a valid zip file"},
		{"text file", []byte("x,y\n1,2\n"), "not an .npz file"},
		{"bare npy", good, "not an .npz file"},
		{"corrupt zip", corrupt, `member "x.npy": the zip is corrupt: its 152 bytes run past the end of the file`},
		{"text member", zipOf(t, member{name: "hello.txt", data: []byte("hello")}), `member "hello.txt" is not a .npy array; an .npz holds only .npy members`},
		{"folder member", zipOf(t, member{name: "d/"}, member{name: "x.npy", data: good}), `member "d/" is not a .npy array`},
		{"duplicate member", zipOf(t, member{name: "x.npy", data: good}, member{name: "x.npy", data: good}), `member "x.npy" appears 2 times; numpy would read only the last`},
		{"garbage member", zipOf(t, member{name: "x.npy", data: []byte("garbage, not an array")}), `member "x.npy": not a .npy array: it does not start with the .npy magic string`},
		{"empty member", zipOf(t, member{name: "x.npy"}), `member "x.npy": not a .npy array: truncated`},
		{"version 9", zipOf(t, member{name: "x.npy", data: []byte("\x93NUMPY\x09\x00\x10\x00")}), `member "x.npy": .npy format version 9.0; want 1, 2 or 3`},
		{"huge header", zipOf(t, v2(math.MaxUint32)), `member "x.npy": .npy header of 4294967295 bytes; the most accepted is 65536`},
		{"truncated header", zipOf(t, v2(100)), `member "x.npy": .npy header of 100 bytes: truncated`},
		{"header not a dict", zipOf(t, hdr("[1, 2]")), `.npy header "[1, 2]": at byte 0: want a dictionary {...}`},
		{"header missing key", zipOf(t, hdr("{'descr': '<f4', 'shape': (2, 3)}")), "want exactly the keys descr, fortran_order and shape"},
		{"header extra key", zipOf(t, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': True}")), "want exactly the keys descr, fortran_order and shape"},
		{"header repeated key", zipOf(t, hdr("{'descr': '<f4', 'descr': '<f4', 'shape': (2, 3)}")), `key "descr" appears twice`},
		{"header trailing text", zipOf(t, hdr(x23+" junk")), `unexpected "junk" after the dictionary`},
		{"header unterminated", zipOf(t, hdr("{'descr: '<f4'")), "want ':' after key"},
		{"header non-ASCII", zipOf(t, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'é': 1}")), ".npy header is not ASCII"},
		{"shape not a tuple", zipOf(t, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': 6}")), `unsupported value "6}"`},
		{"negative shape", zipOf(t, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3)}")), `shape entry "-2, 3)}" is not a non-negative integer`},
		{"fortran_order not bool", zipOf(t, hdr("{'descr': '<f4', 'fortran_order': 'no', 'shape': (2, 3)}")), "fortran_order is not True or False"},
		{"structured dtype", zipOf(t, hdr("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3)}")), `at byte 10: unsupported value "[('a', '<f4')]`},
		{"int dtype", zipOf(t, hdr("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }")), `member "x.npy": dtype <i8; want float32 (<f4) or float64 (<f8)`},
		{"fortran order", zipOf(t, hdr("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }")), `member "x.npy": array is in Fortran order; save it in C order`},
		{"shape (1e11, 10)", zipOf(t, hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 10), }")),
			`member "x.npy": header says shape (100000000000, 10) of <f4 (4000000000000 bytes) but the member holds 24 bytes of data`},
		{"shape overflows", zipOf(t, hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }")),
			"header says shape (4294967296, 4294967296) of <f8 (more than 2^63 bytes) but the member holds 24 bytes of data"},
		{"too little data", zipOf(t, member{name: "x.npy", data: npy(x23, f32(1, 2, 3, 4, 5))}), "header says shape (2, 3) of <f4 (24 bytes) but the member holds 20 bytes of data"},
		{"too much data", zipOf(t, member{name: "x.npy", data: npy(x23, f32(1, 2, 3, 4, 5, 6, 7))}), "header says shape (2, 3) of <f4 (24 bytes) but the member holds 28 bytes of data"},
		{"f64 data for f4", zipOf(t, hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }")), "header says shape (2, 3) of <f8 (48 bytes) but the member holds 24 bytes of data"},
		{"declares 1 PiB", zipOf(t, named("x.npy", deflated(t, good, 1<<50, 0))), `member "x.npy" declares 1125899906842624 bytes, more than the 4294967296 bytes of memory available (the cap set with data.SetMemoryLimit)`},
		{"declares 1 GiB it does not hold", zipOf(t, named("x.npy", deflated(t, gib, 1<<30+128, 0))), `member "x.npy": its data ends before the 1073741952 bytes its zip entry declares: unexpected EOF`},
		{"declares less than it holds", zipOf(t, named("x.npy", deflated(t, good, 100, 0))), `member "x.npy": its data is longer than the 100 bytes its zip entry declares: zip: not a valid zip file`},
		{"declares more than it holds", zipOf(t, named("x.npy", deflated(t, good, uint64(len(good))+8, 0))), `member "x.npy": its data ends before the 160 bytes its zip entry declares: unexpected EOF`},
		{"bad checksum", zipOf(t, named("x.npy", deflated(t, good, 0, 12345))), `member "x.npy": its data does not match its CRC-32 (the file is damaged): zip: checksum error`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.npz")
			if err := os.WriteFile(path, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, err := ReadNPZ(path)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.HasPrefix(err.Error(), "read "+path+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v\nwant an error starting %q and containing %q", got, err, "read "+path+": ", tc.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("allocated %d bytes for a %d-byte file", n, len(tc.file))
			}
		})
	}
}

func TestReadNPZMemoryBudget(t *testing.T) {
	defer SetMemoryLimit(SetMemoryLimit(200))
	a := npy(x23, f32(1, 2, 3, 4, 5, 6)) // 128 bytes
	path := filepath.Join(t.TempDir(), "d.npz")
	for _, tc := range []struct {
		name    string
		members []member
		want    string
	}{
		{"one fits", []member{{name: "x.npy", data: a}}, ""},
		{"two do not", []member{{name: "x.npy", data: a}, {name: "y.npy", data: a}},
			`read ` + path + `: member "y.npy" declares 152 bytes (304 with the members before it), more than the 200 bytes of memory available (the cap set with data.SetMemoryLimit)`},
		{"a compressed one does not", []member{named("x.npy", deflated(t, a, 201, 0))},
			`member "x.npy" declares 201 bytes, more than the 200 bytes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, zipOf(t, tc.members...), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadNPZ(path)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestReadNPZFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "none.npz"), "read " + filepath.Join(dir, "none.npz") + ": open " + filepath.Join(dir, "none.npz") + ": no such file or directory"},
		{dir, "read " + dir + ": is a folder, want an .npz file"},
	} {
		if _, err := ReadNPZ(tc.path); err == nil || err.Error() != tc.want {
			t.Errorf("ReadNPZ(%s): got %v, want %q", tc.path, err, tc.want)
		}
	}
}

func TestSystemMemoryBudget(t *testing.T) {
	n, source := memoryBudget()
	if n == 0 || source == "" {
		t.Fatalf("budget %d from %q", n, source)
	}
	t.Logf("%d bytes (%s)", n, source)
}

// TestReadNPZNumpy reads files numpy writes (savez, savez_compressed,
// float64, big-endian, a scalar and an empty array, .npy format versions 2
// and 3) and compares every array with what numpy.load reads, exactly
// (float64 rounded to float32 as numpy's astype does).
func TestReadNPZNumpy(t *testing.T) {
	dir := t.TempDir()
	out, err := oracle.Run("npz_cases.py", dir)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]map[string]struct {
		Shape []int64
		Data  []float64
	}
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) < 8 {
		t.Fatalf("the script wrote %d cases", len(want))
	}
	for name, arrays := range want {
		got, err := ReadNPZ(filepath.Join(dir, name+".npz"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != len(arrays) {
			t.Errorf("%s: got keys %v, numpy has %d arrays", name, Weights(got).Names(), len(arrays))
		}
		for key, w := range arrays {
			a, ok := got[key]
			data := make([]float32, len(w.Data))
			for i, v := range w.Data {
				data[i] = float32(v)
			}
			if !ok || !reflect.DeepEqual(a.Shape, append([]int64{}, w.Shape...)) || !reflect.DeepEqual(a.Data, data) {
				t.Errorf("%s: %s: got %v, numpy reads shape %v values %v", name, key, a, w.Shape, data)
			}
		}
	}
}
