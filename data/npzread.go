package data

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// maxNPYHeader bounds the length of an .npy header ReadNPZ accepts. numpy
// writes a few dozen bytes and refuses to load more than 10,000 by default.
const maxNPYHeader = 1 << 16

// defaultMemoryCap is the memory budget where the system does not say how
// much memory is free (no /proc/meminfo).
const defaultMemoryCap = 8 << 30

// memoryBudget returns how many bytes ReadNPZ may allocate for the arrays
// of one file and where that figure comes from: MemoryBudget (so
// SetMemoryLimit lowers it), or defaultMemoryCap where the system does not
// say.
func memoryBudget() (uint64, string) {
	b, source := MemoryBudget()
	if source == "" {
		return defaultMemoryCap, "ReadNPZ's cap where the system does not say"
	}
	return uint64(b), source
}

// ReadNPZ reads every float32 (or float64, converted) array of an .npz
// file, as numpy.savez writes it: a zip whose members are .npy arrays.
// Keys are returned without the ".npy" suffix.
//
// The file is checked before anything large is allocated: every member
// must be a .npy array (version 1, 2 or 3, C order, little- or big-endian
// float32 or float64) whose header's shape accounts for exactly the bytes
// the member holds; no member name may appear twice (numpy would silently
// read the last); and the members together may not declare more bytes
// than the memory available. Each failure is an error naming the file
// and the member.
func ReadNPZ(path string) (map[string]Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("read %s: is a folder, want an .npz file", path)
	}
	out, err := readNPZ(f, info.Size())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// ReadNPZTypes is ReadNPZ for arrays of any of numpy's integer types too
// (int8 to int64, uint8 to uint64), converted to float32 (integers past
// 2**24 round); it also returns each array's numpy dtype ("float32",
// "uint8", ...).
func ReadNPZTypes(path string) (map[string]Array, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if info.IsDir() {
		return nil, nil, fmt.Errorf("read %s: is a folder, want an .npz file", path)
	}
	types := map[string]string{}
	out, err := readNPZTypes(f, info.Size(), types)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, types, nil
}

// readNPZ reads the .npz of float arrays held in the size bytes of r.
func readNPZ(r io.ReaderAt, size int64) (map[string]Array, error) {
	return readNPZTypes(r, size, nil)
}

// readNPZTypes reads the .npz held in the size bytes of r; with types not
// nil, integer arrays too, recording each array's dtype in types.
func readNPZTypes(r io.ReaderAt, size int64, types map[string]string) (map[string]Array, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not an .npz file (a zip of .npy arrays, as numpy.savez writes): %w", err)
	}
	seen := map[string]int{}
	for _, m := range zr.File {
		seen[m.Name]++
	}
	budget, source := memoryBudget()
	var total uint64
	for _, m := range zr.File {
		if !strings.HasSuffix(m.Name, ".npy") || m.FileInfo().IsDir() {
			return nil, fmt.Errorf("member %q is not a .npy array; an .npz holds only .npy members", m.Name)
		}
		if n := seen[m.Name]; n > 1 {
			return nil, fmt.Errorf("member %q appears %d times; numpy would read only the last, so the file is ambiguous: write it again", m.Name, n)
		}
		total += m.UncompressedSize64
		if m.UncompressedSize64 > budget || total > budget {
			before := ""
			if total != m.UncompressedSize64 {
				before = fmt.Sprintf(" (%d with the members before it)", total)
			}
			return nil, fmt.Errorf("member %q declares %d bytes%s, more than the %d bytes of memory available (%s)",
				m.Name, m.UncompressedSize64, before, budget, source)
		}
	}
	out := make(map[string]Array, len(zr.File))
	for _, m := range zr.File {
		a, dtype, err := readMember(m, size, types != nil)
		if err != nil {
			return nil, fmt.Errorf("member %q: %w", m.Name, err)
		}
		out[strings.TrimSuffix(m.Name, ".npy")] = a
		if types != nil {
			types[strings.TrimSuffix(m.Name, ".npy")] = dtype
		}
	}
	return out, nil
}

// readMember reads one .npy member of a zip of size bytes, checking its
// header against the member's size before allocating the array.
func readMember(m *zip.File, size int64, ints bool) (Array, string, error) {
	// A stored member's bytes are all in the file: allocate the array at
	// once. A compressed member may declare more than its data inflates
	// to, so its array grows with the data that arrive.
	stored := m.Method == zip.Store
	if off, err := m.DataOffset(); stored && (err != nil || off < 0 || m.CompressedSize64 > uint64(size-off)) {
		return Array{}, "", fmt.Errorf("the zip is corrupt: its %d bytes run past the end of the file", m.CompressedSize64)
	}
	rc, err := m.Open()
	if err != nil {
		return Array{}, "", fmt.Errorf("the zip is corrupt: %w", unexpectedEOF(err))
	}
	defer rc.Close()
	br := bufio.NewReaderSize(declared{rc, m.UncompressedSize64}, 64<<10)
	h, headerLen, err := readNPYHeader(br)
	if err != nil {
		return Array{}, "", err
	}
	if h.kind != 'f' && !ints {
		return Array{}, "", fmt.Errorf("dtype %s; want float32 (<f4) or float64 (<f8)", h.descr)
	}
	if h.fortran {
		return Array{}, "", fmt.Errorf("array is in Fortran order; save it in C order (numpy.ascontiguousarray)")
	}
	n, ok := npyElements(h.shape)
	present := m.UncompressedSize64 - uint64(headerLen)
	if m.UncompressedSize64 < uint64(headerLen) {
		present = 0
	}
	want := n * uint64(h.size)
	if !ok || n > math.MaxUint64/uint64(h.size) || want != present {
		return Array{}, "", fmt.Errorf("header says shape %s of %s (%s bytes) but the member holds %d bytes of data", h.shapeText(), h.descr, bytesText(n, h.size, ok), present)
	}
	first := n
	if !stored {
		first = min(n, 64<<10)
	}
	data, err := h.decode(br, int(n), make([]float32, 0, first))
	if err != nil {
		return Array{}, "", fmt.Errorf("reading %d values: %w", n, err)
	}
	// Reading to the end makes archive/zip check the CRC-32.
	if extra, err := io.Copy(io.Discard, br); err != nil {
		return Array{}, "", err
	} else if extra > 0 {
		return Array{}, "", fmt.Errorf("%d bytes after the data of shape %s", extra, h.shapeText())
	}
	shape := make([]int64, len(h.shape))
	for i, d := range h.shape {
		shape[i] = int64(d)
	}
	return Array{Shape: shape, Data: data}, h.dtype(), nil
}

// declared reads a zip member, saying what archive/zip's errors mean when
// the member's data and its declared size disagree.
type declared struct {
	r    io.Reader
	size uint64
}

func (d declared) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	switch {
	case errors.Is(err, zip.ErrFormat):
		err = fmt.Errorf("its data is longer than the %d bytes its zip entry declares: %w", d.size, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = fmt.Errorf("its data ends before the %d bytes its zip entry declares: %w", d.size, err)
	case errors.Is(err, zip.ErrChecksum):
		err = fmt.Errorf("its data does not match its CRC-32 (the file is damaged): %w", err)
	}
	return n, err
}
