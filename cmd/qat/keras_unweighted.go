package main

import (
	"fmt"
	"slices"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
)

// The Keras layers without weights: pooling, reshaping, activations and
// the graph layers that join branches.

func kerasPool(typ string) func(kerasSettings, kerasContext) (translated, error) {
	return func(k kerasSettings, _ kerasContext) (translated, error) {
		if err := k.channelsLast(); err != nil {
			return translated{}, err
		}
		l := models.LayerConfig{Type: typ}
		var err error
		if l.Size, err = k.pair("pool_size", []int{2, 2}); err != nil {
			return translated{}, err
		}
		if l.Strides, err = k.pair("strides", l.Size); err != nil {
			return translated{}, err
		}
		if slices.Equal(l.Strides, l.Size) {
			l.Strides = nil
		}
		if slices.Equal(l.Size, []int{2, 2}) {
			l.Size = nil
		}
		if l.Padding, err = k.padding(); err != nil {
			return translated{}, err
		}
		return translated{layer: &l}, nil
	}
}

func kerasFlatten(k kerasSettings, _ kerasContext) (translated, error) {
	if err := k.channelsLast(); err != nil {
		return translated{}, err
	}
	return translated{layer: &models.LayerConfig{Type: models.TypeFlatten}}, nil
}

func kerasReLU(k kerasSettings, _ kerasContext) (translated, error) {
	for _, key := range []string{"negative_slope", "threshold"} {
		if err := k.want(key, "0 only", 0.0, nil); err != nil {
			return translated{}, err
		}
	}
	switch m := k.l.Config["max_value"]; m {
	case nil:
		return translated{layer: &models.LayerConfig{Type: models.TypeReLU}}, nil
	case 6.0:
		return translated{layer: &models.LayerConfig{Type: models.TypeReLU6}}, nil
	default:
		return translated{}, k.unsupported("max_value", m, "None and 6")
	}
}

func kerasActivationLayer(k kerasSettings, ctx kerasContext) (translated, error) {
	act, note, err := k.activation("activation", ctx)
	switch {
	case err != nil:
		return translated{}, err
	case act == layers.ReLUAct:
		return translated{layer: &models.LayerConfig{Type: models.TypeReLU}}, nil
	case act == layers.ReLU6Act:
		return translated{layer: &models.LayerConfig{Type: models.TypeReLU6}}, nil
	}
	return translated{note: note}, nil // linear, or the output's softmax: nothing
}

func kerasSoftmax(k kerasSettings, ctx kerasContext) (translated, error) {
	if !ctx.isOutput {
		return translated{}, k.errorf("a softmax is supported only as the model's output (where it is left out)")
	}
	if err := k.want("axis", "-1 only", -1.0, []any{-1.0}); err != nil {
		return translated{}, err
	}
	return translated{note: fmt.Sprintf("layer %q: the softmax is left out (qat trains on the logits with softmax cross-entropy)", k.l.Name)}, nil
}

func kerasAdd(k kerasSettings, _ kerasContext) (translated, error) {
	return translated{layer: &models.LayerConfig{Type: models.TypeAdd}}, nil
}

func kerasConcatenate(k kerasSettings, _ kerasContext) (translated, error) {
	// Both count the batch axis; -1 (the last) is qat's default.
	axis, ok := k.number("axis")
	if !ok || axis != float64(int(axis)) || axis == 0 {
		return translated{}, k.unsupported("axis", k.l.Config["axis"], "a whole number other than 0 (the batch)")
	}
	l := models.LayerConfig{Type: models.TypeConcatenate}
	if axis != -1 {
		l.Axis = int(axis)
	}
	return translated{layer: &l}, nil
}

func kerasGlobalAvgPool(k kerasSettings, _ kerasContext) (translated, error) {
	if err := k.channelsLast(); err != nil {
		return translated{}, err
	}
	if err := k.want("keepdims", "False only", false, nil); err != nil {
		return translated{}, err
	}
	return translated{layer: &models.LayerConfig{Type: models.TypeGlobalAvgPool}}, nil
}

func kerasZeroPadding2D(k kerasSettings, _ kerasContext) (translated, error) {
	if err := k.channelsLast(); err != nil {
		return translated{}, err
	}
	// Keras stores ((top, bottom), (left, right)).
	bad := k.unsupported("padding", k.l.Config["padding"], "((top, bottom), (left, right)) of whole numbers >= 0")
	rows, ok := k.l.Config["padding"].([]any)
	if !ok || len(rows) != 2 {
		return translated{}, bad
	}
	var pad []int
	for _, r := range rows {
		pair, ok := r.([]any)
		if !ok || len(pair) != 2 {
			return translated{}, bad
		}
		for _, v := range pair {
			f, ok := v.(float64)
			if !ok || f < 0 || f != float64(int(f)) {
				return translated{}, bad
			}
			pad = append(pad, int(f))
		}
	}
	return translated{layer: &models.LayerConfig{Type: models.TypeZeroPadding2D, Pad: pad}}, nil
}

func kerasDropout(k kerasSettings, _ kerasContext) (translated, error) {
	if err := k.want("noise_shape", "None only", nil); err != nil {
		return translated{}, err
	}
	rate, ok := k.number("rate")
	if !ok || !(rate >= 0 && rate < 1) {
		return translated{}, k.unsupported("rate", k.l.Config["rate"], "a rate in [0, 1)")
	}
	return translated{layer: &models.LayerConfig{Type: models.TypeDropout, Rate: rate}}, nil
}

func kerasReshape(k kerasSettings, _ kerasContext) (translated, error) {
	list, ok := k.l.Config["target_shape"].([]any)
	bad := k.unsupported("target_shape", k.l.Config["target_shape"], "whole numbers > 0 and at most one -1")
	if !ok || len(list) == 0 {
		return translated{}, bad
	}
	shape := make([]int64, len(list))
	for i, v := range list {
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) || (f < 1 && f != -1) {
			return translated{}, bad
		}
		shape[i] = int64(f)
	}
	return translated{layer: &models.LayerConfig{Type: models.TypeReshape, Shape: shape}}, nil
}
