package data

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
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

// npyHeader is the part of an .npy header ReadNPZ uses.
type npyHeader struct {
	descr   string // as written, e.g. "<f4"
	order   binary.ByteOrder
	kind    byte // 'f' (float), 'i' (signed) or 'u' (unsigned integer)
	size    int  // bytes per value: 4 or 8 (floats), 1, 2, 4 or 8
	fortran bool
	shape   []uint64
}

// readNPYHeader reads the magic string, version and header dictionary of
// an .npy array and returns the header and its length in bytes with the
// preamble (where the data begins).
func readNPYHeader(r io.Reader) (npyHeader, int, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err == io.EOF || err == io.ErrUnexpectedEOF {
		return npyHeader{}, 0, fmt.Errorf("not a .npy array: %w", unexpectedEOF(err))
	} else if err != nil {
		return npyHeader{}, 0, err
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return npyHeader{}, 0, fmt.Errorf("not a .npy array: it does not start with the .npy magic string")
	}
	major := pre[6]
	var hlen, pos int
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return npyHeader{}, 0, fmt.Errorf(".npy header: %w", unexpectedEOF(err))
		}
		hlen, pos = int(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return npyHeader{}, 0, fmt.Errorf(".npy header: %w", unexpectedEOF(err))
		}
		v := binary.LittleEndian.Uint32(b[:])
		if v > maxNPYHeader {
			return npyHeader{}, 0, fmt.Errorf(".npy header of %d bytes; the most accepted is %d", v, maxNPYHeader)
		}
		hlen, pos = int(v), 12
	default:
		return npyHeader{}, 0, fmt.Errorf(".npy format version %d.%d; want 1, 2 or 3", major, pre[7])
	}
	text := make([]byte, hlen)
	if _, err := io.ReadFull(r, text); err != nil {
		return npyHeader{}, 0, fmt.Errorf(".npy header of %d bytes: %w", hlen, unexpectedEOF(err))
	}
	if major < 3 {
		for _, c := range text {
			if c >= 0x80 {
				return npyHeader{}, 0, fmt.Errorf(".npy header is not ASCII")
			}
		}
	} else if !utf8.Valid(text) {
		return npyHeader{}, 0, fmt.Errorf(".npy header is not UTF-8")
	}
	h, err := parseNPYHeader(string(text))
	if err != nil {
		return npyHeader{}, 0, err
	}
	return h, pos + hlen, nil
}

// parseNPYHeader parses the header dictionary, a Python literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
func parseNPYHeader(text string) (npyHeader, error) {
	text = strings.TrimRight(text, " \t\r\n")
	p := &pyParser{s: text}
	dict, err := p.dict()
	if err == nil {
		if p.space(); p.i != len(p.s) {
			err = p.errorf("unexpected %q after the dictionary", clip(p.s[p.i:], 20))
		}
	}
	if err == nil && len(dict) != 3 {
		err = fmt.Errorf("want exactly the keys descr, fortran_order and shape")
	}
	if err != nil {
		return npyHeader{}, fmt.Errorf(".npy header %q: %w", clip(strings.TrimSpace(text), 200), err)
	}
	var h npyHeader
	descr, ok := dict["descr"].(string)
	if !ok {
		return npyHeader{}, fmt.Errorf("descr is not a simple dtype string")
	}
	h.descr = descr
	switch descr {
	case "<f4", "<f8", ">f4", ">f8", "|u1", "|i1", "<u1", "<i1",
		"<i2", "<i4", "<i8", ">i2", ">i4", ">i8", "<u2", "<u4", "<u8", ">u2", ">u4", ">u8":
		h.order = binary.ByteOrder(binary.LittleEndian)
		if descr[0] == '>' {
			h.order = binary.BigEndian
		}
		h.kind, h.size = descr[1], int(descr[2]-'0')
	default:
		return npyHeader{}, fmt.Errorf("dtype %s; want float32 (<f4) or float64 (<f8) (or, for data, an integer type)", descr)
	}
	if h.fortran, ok = dict["fortran_order"].(bool); !ok {
		return npyHeader{}, fmt.Errorf("fortran_order is not True or False")
	}
	if h.shape, ok = dict["shape"].([]uint64); !ok {
		return npyHeader{}, fmt.Errorf("shape is not a tuple of integers")
	}
	return h, nil
}

// decode appends n values read from r to dst, converting float64 to
// float32, and returns the extended slice.
func (h npyHeader) decode(r io.Reader, n int, dst []float32) ([]float32, error) {
	buf := make([]byte, 32<<10)
	per := len(buf) / h.size
	for len(dst) < n {
		k := min(per, n-len(dst))
		b := buf[:k*h.size]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		from := len(dst)
		dst = slices.Grow(dst, k)[:from+k]
		out := dst[from:]
		for i := range out {
			out[i] = h.value(b[h.size*i:])
		}
	}
	return dst, nil
}

// value converts one value of h's dtype at the start of b to float32.
func (h npyHeader) value(b []byte) float32 {
	var u uint64
	switch h.size {
	case 1:
		u = uint64(b[0])
	case 2:
		u = uint64(h.order.Uint16(b))
	case 4:
		u = uint64(h.order.Uint32(b))
	default:
		u = h.order.Uint64(b)
	}
	switch {
	case h.kind == 'f' && h.size == 4:
		return math.Float32frombits(uint32(u))
	case h.kind == 'f':
		return float32(math.Float64frombits(u))
	case h.kind == 'u':
		return float32(u)
	}
	shift := 64 - 8*h.size // sign-extend
	return float32(int64(u<<shift) >> shift)
}

// dtype is numpy's name for h's type: "float32", "uint8", "int64", ...
func (h npyHeader) dtype() string {
	name := map[byte]string{'f': "float", 'i': "int", 'u': "uint"}[h.kind]
	return name + strconv.Itoa(8*h.size)
}

// shapeText writes the shape as numpy does: (), (3,), (2, 3).
func (h npyHeader) shapeText() string {
	parts := make([]string, len(h.shape))
	for i, d := range h.shape {
		parts[i] = strconv.FormatUint(d, 10)
	}
	if len(parts) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// npyElements is the product of a .npy shape; ok is false if it overflows an int.
func npyElements(shape []uint64) (uint64, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d != 0 && n > math.MaxInt/d {
			return 0, false
		}
		n *= d
	}
	return n, n <= math.MaxInt
}

// bytesText is n*size in decimal, or "too many" when it overflows.
func bytesText(n uint64, size int, ok bool) string {
	if !ok || n > math.MaxUint64/uint64(size) {
		return "more than 2^63"
	}
	return strconv.FormatUint(n*uint64(size), 10)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// unexpectedEOF says "truncated" for the bare EOF errors of a short read
// and leaves other errors (those of declared among them) as they are.
func unexpectedEOF(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("truncated: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// pyParser parses the Python literals of an .npy header: a dictionary of
// string keys whose values are strings, True, False or tuples of
// non-negative integers.
type pyParser struct {
	s string
	i int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

// eat skips space and then c, reporting whether c was there.
func (p *pyParser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: "+format, append([]any{p.i}, args...)...)
}

func (p *pyParser) dict() (map[string]any, error) {
	if !p.eat('{') {
		return nil, p.errorf("want a dictionary {...}")
	}
	out := map[string]any{}
	for !p.eat('}') {
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, p.errorf("key %q appears twice", key)
		}
		if !p.eat(':') {
			return nil, p.errorf("want ':' after key %q", key)
		}
		if out[key], err = p.value(); err != nil {
			return nil, err
		}
		if !p.eat(',') {
			if !p.eat('}') {
				return nil, p.errorf("want ',' or '}'")
			}
			break
		}
	}
	return out, nil
}

func (p *pyParser) value() (any, error) {
	p.space()
	switch {
	case p.i >= len(p.s):
		return nil, p.errorf("the header ends where a value should be")
	case p.s[p.i] == '\'' || p.s[p.i] == '"':
		return p.str()
	case p.s[p.i] == '(':
		return p.tuple()
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	}
	return nil, p.errorf("unsupported value %q", clip(p.s[p.i:], 20))
}

// str parses a quoted string without escapes (dtype strings have none).
func (p *pyParser) str() (string, error) {
	p.space()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", p.errorf("want a quoted string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", p.errorf("unterminated string")
	}
	s := p.s[p.i+1 : p.i+1+end]
	if strings.IndexByte(s, '\\') >= 0 {
		return "", p.errorf("string with escapes")
	}
	p.i += end + 2
	return s, nil
}

func (p *pyParser) tuple() ([]uint64, error) {
	if !p.eat('(') {
		return nil, p.errorf("want a tuple (...)")
	}
	out := []uint64{}
	for !p.eat(')') {
		p.space()
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		d, err := strconv.ParseUint(p.s[start:p.i], 10, 63)
		if err != nil {
			return nil, p.errorf("shape entry %q is not a non-negative integer", clip(p.s[start:], 20))
		}
		if p.i < len(p.s) && p.s[p.i] == 'L' { // Python 2's long
			p.i++
		}
		out = append(out, d)
		if !p.eat(',') {
			if !p.eat(')') {
				return nil, p.errorf("want ',' or ')' in the shape")
			}
			break
		}
	}
	return out, nil
}
