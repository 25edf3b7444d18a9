package qat_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/qat-go/qat/qat"
)

// TestSchemeQuantizers checks which policy a scheme gives each layer: the
// default reproduces tfmot (symmetric narrow-range LastValue weights, per
// channel for convolutions; 8-bit MovingAverage outputs; AllValues input),
// and overrides change one layer only.
func TestSchemeQuantizers(t *testing.T) {
	no := false
	s := qat.Default8Bit()
	s.Layers = map[string]qat.Policy{
		"c2":  {WeightBits: 4, ActivationBits: 8},
		"c3":  {WeightBits: 8, ActivationBits: 8, PerChannel: &no, Asymmetric: true},
		"d":   {WeightBits: 8, ActivationBits: 8, LearnableRanges: true},
		"out": {WeightBits: 8},
	}
	s.Decay = 0.99
	for _, c := range []struct {
		name string
		got  qat.Quantizer
		want qat.Quantizer
	}{
		{"dense weights", s.Weights("d1", false), qat.LastValue{NumBits: 8, Symmetric: true, NarrowRange: true}},
		{"conv weights", s.Weights("c1", true), qat.LastValue{NumBits: 8, PerChannel: true, Symmetric: true, NarrowRange: true}},
		{"4-bit conv weights", s.Weights("c2", true), qat.LastValue{NumBits: 4, PerChannel: true, Symmetric: true, NarrowRange: true}},
		{"asymmetric per-tensor conv", s.Weights("c3", true), qat.LastValue{NumBits: 8}},
		{"activations", s.Activations("c1"), qat.MovingAverage{NumBits: 8, Decay: 0.99}},
		{"learnable", s.Activations("d"), qat.Learnable{NumBits: 8}},
		{"float output", s.Activations("out"), nil},
		{"input", s.Input(), qat.AllValues{NumBits: 8}},
		{"float model", (*qat.Scheme)(nil).Weights("d", false), nil},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if got := qat.ActivationsDefault(8).Decay; got != qat.EMADecay || qat.EMADecay != 0.999 || qat.InitMin != -6 || qat.InitMax != 6 {
		t.Errorf("tfmot's numbers: decay %v, init [%v, %v]", got, qat.InitMin, qat.InitMax)
	}
}

// TestSchemeErrors checks that bad schemes are errors that name the part.
func TestSchemeErrors(t *testing.T) {
	yes := true
	for _, c := range []struct {
		name   string
		scheme *qat.Scheme
		check  map[string]bool
		want   string
	}{
		{"weight bits", qat.Bits(17, 8), nil, "scheme default: weight_bits: num_bits 17 is outside 2..16"},
		{"activation bits", qat.Bits(8, 1), nil, "scheme default: activation_bits: num_bits 1 is outside 2..16"},
		{"layer bits", &qat.Scheme{Layers: map[string]qat.Policy{"c1": {WeightBits: 20}}}, nil, "scheme layer c1: weight_bits: num_bits 20"},
		{"input bits", &qat.Scheme{InputBits: 40}, nil, "scheme input_bits: num_bits 40"},
		{"decay", &qat.Scheme{Decay: 1.5}, nil, "ema_decay 1.5 must be in (0, 1)"},
		{"schedule", &qat.Scheme{Schedule: qat.Schedule{QuantDelay: -1}}, nil, "schedule: quant_delay -1 must be >= 0"},
		{"unknown layer", &qat.Scheme{Layers: map[string]qat.Policy{"x": {}}}, map[string]bool{"d": true}, `scheme names layer "x"`},
		{"per-channel without channels", &qat.Scheme{Layers: map[string]qat.Policy{"p": {PerChannel: &yes}}}, map[string]bool{"p": false},
			"scheme layer p: per_channel set, but the layer has no weights with channels"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.scheme.Validate()
			if err == nil && c.check != nil {
				err = c.scheme.CheckLayers(c.check)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	for _, q := range []qat.Quantizer{qat.LastValue{NumBits: 1}, qat.MovingAverage{NumBits: 8}, qat.AllValues{NumBits: 17}, qat.Learnable{NumBits: 0}} {
		if q.Validate() == nil {
			t.Errorf("%#v: no error", q)
		}
	}
}
