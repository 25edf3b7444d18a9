package models

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/qat-go/qat/data"
)

// ReadDatasetScaled reads a data set from an .npz file with arrays x
// (float32, float64, or with scale uint8) and y (float or integer; its
// form is the loss's). A scale other than 0 multiplies x as numpy's
// x.astype(float32) * scale does; a uint8 x without one is an error, and
// so is an x of another integer type.
func ReadDatasetScaled(path string, scale float64) (data.Dataset, error) {
	arrays, types, err := data.ReadNPZTypes(path)
	if err != nil {
		return data.Dataset{}, err
	}
	x, okx := arrays["x"]
	y, oky := arrays["y"]
	if !okx || !oky {
		return data.Dataset{}, fmt.Errorf("%s: want arrays x [N, features] and y [N, classes] (one-hot) or [N] (class ids); the file has %q", path, data.Weights(arrays).Names())
	}
	if x, err = scaledX(path, x, types["x"], scale); err != nil {
		return data.Dataset{}, err
	}
	return data.Dataset{X: x, Y: y}, nil
}

// readNPZ reads the data set at path for m as the config says: x with
// the data's scale, y in the loss's form (class ids [N, 1] taken as [N],
// as Keras's sparse losses squeeze them), checked against m.
func (c *Config) readNPZ(path string, m Model) (data.Dataset, error) {
	d, err := ReadDatasetScaled(path, c.Data.Scale)
	if err != nil {
		return data.Dataset{}, err
	}
	labels := c.Loss.Labels()
	if y := d.Y.Shape; labels == data.ClassIDs && len(y) == 2 && y[1] == 1 {
		d.Y.Shape = y[:1]
	}
	if err := d.ValidateLabels(m.Input, m.Classes(), labels); err != nil {
		return data.Dataset{}, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// ReadX reads the inputs x [N, input...] of an .npz file as
// ReadDatasetScaled does (float, or uint8 with a scale), for prediction.
func ReadX(path string, scale float64) (data.Array, error) {
	arrays, types, err := data.ReadNPZTypes(path)
	if err != nil {
		return data.Array{}, err
	}
	x, ok := arrays["x"]
	if !ok {
		return data.Array{}, fmt.Errorf("%s: no array x [N, input...]; the file has %q", path, data.Weights(arrays).Names())
	}
	return scaledX(path, x, types["x"], scale)
}

// scaledX checks the numpy type t of path's x and multiplies x by scale
// (if not 0) in float32, as numpy's x.astype(float32) * scale.
func scaledX(path string, x data.Array, t string, scale float64) (data.Array, error) {
	switch {
	case t == "uint8" && scale == 0:
		return data.Array{}, fmt.Errorf("%s: x is uint8; set data.scale (qat train, eval and predict: --scale), e.g. 1/255", path)
	case t != "uint8" && !strings.HasPrefix(t, "float"):
		return data.Array{}, fmt.Errorf("%s: x is %s; want float32, float64 or uint8 (with data.scale)", path, t)
	}
	if scale != 0 {
		s := float32(scale)
		for i, v := range x.Data {
			x.Data[i] = v * s
		}
	}
	return x, nil
}

// ParseScale reads a scale as a number (0.00392156862745098) or a
// fraction of two numbers ("1/255", divided in float64 as Python's 1/255).
func ParseScale(s string) (float64, error) {
	num, den, frac := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err == nil && frac {
		var d float64
		if d, err = strconv.ParseFloat(strings.TrimSpace(den), 64); err == nil {
			v /= d
		}
	}
	if err != nil || !(v > 0 && v <= math.MaxFloat32) {
		return 0, fmt.Errorf("scale %q: want a finite number > 0 or a fraction such as 1/255", s)
	}
	return v, nil
}
