package data

import (
	"fmt"
	"io"
	"reflect"

	"codeberg.org/sbinet/npyio/npz"
	"github.com/qat-go/qat/internal/atomicfile"
)

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
