package data

// This file reads the header of an .npy array (the format numpy writes
// into .npz members) and decodes its values.

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

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
