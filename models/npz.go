package models

import (
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"

	"codeberg.org/sbinet/npyio/npz"
	"github.com/qat-go/qat/internal/atomicfile"
)

// ReadNPZ reads every float32 (or float64, converted) array of an .npz file.
// Keys are returned without the ".npy" suffix.
func ReadNPZ(path string) (map[string]Array, error) {
	r, err := npz.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer r.Close()
	out := map[string]Array{}
	for _, key := range r.Keys() {
		h := r.Header(key)
		shape := make([]int64, len(h.Descr.Shape))
		for i, d := range h.Descr.Shape {
			shape[i] = int64(d)
		}
		if h.Descr.Fortran {
			return nil, fmt.Errorf("read %s: array %s is in Fortran order; save it in C order", path, key)
		}
		var data []float32
		switch strings.Trim(h.Descr.Type, "'") {
		case "<f4":
			err = r.Read(key, &data)
		case "<f8":
			var d64 []float64
			err = r.Read(key, &d64)
			data = make([]float32, len(d64))
			for i, v := range d64 {
				data[i] = float32(v)
			}
		default:
			return nil, fmt.Errorf("read %s: array %s has dtype %s; want float32 or float64", path, key, h.Descr.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: array %s: %w", path, key, err)
		}
		name := key
		if ext := filepath.Ext(key); ext == ".npy" {
			name = key[:len(key)-len(ext)]
		}
		out[name] = Array{Shape: shape, Data: data}
	}
	return out, nil
}

// WriteNPZ writes arrays to an .npz file that numpy.load reads with their
// shapes, atomically (a temporary file renamed into place).
func WriteNPZ(path string, arrays map[string]Array) error {
	if err := atomicfile.Write(path, func(f io.Writer) error { return EncodeNPZ(f, arrays) }); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// EncodeNPZ writes arrays to w in the .npz format (WriteNPZ's content).
func EncodeNPZ(f io.Writer, arrays map[string]Array) error {
	w := npz.NewWriter(f)
	for _, name := range Weights(arrays).Names() {
		v, err := nested(arrays[name])
		if err != nil {
			return fmt.Errorf("array %s: %w", name, err)
		}
		if err := w.Write(name+".npy", v); err != nil {
			return err
		}
	}
	return w.Close()
}

// nested turns flat row-major data into nested slices ([][]float32, ...)
// so that npyio records the shape.
func nested(a Array) (any, error) {
	n := int64(1)
	for _, d := range a.Shape {
		if d <= 0 {
			return nil, fmt.Errorf("shape %v has a non-positive dimension", a.Shape)
		}
		n *= d
	}
	if n != int64(len(a.Data)) {
		return nil, fmt.Errorf("shape %v needs %d values, have %d", a.Shape, n, len(a.Data))
	}
	if len(a.Shape) == 0 {
		return a.Data[0], nil
	}
	var build func(dims []int64, data []float32) reflect.Value
	build = func(dims []int64, data []float32) reflect.Value {
		if len(dims) == 1 {
			return reflect.ValueOf(append([]float32(nil), data...))
		}
		inner := build(dims[1:], data[:len(data)/int(dims[0])])
		s := reflect.MakeSlice(reflect.SliceOf(inner.Type()), int(dims[0]), int(dims[0]))
		step := len(data) / int(dims[0])
		for i := 0; i < int(dims[0]); i++ {
			s.Index(i).Set(build(dims[1:], data[i*step:(i+1)*step]))
		}
		return s
	}
	return build(a.Shape, a.Data).Interface(), nil
}
