package qat

import (
	"errors"
	"fmt"
	"sort"
)

// Policy says how one layer is quantized.
type Policy struct {
	// WeightBits is the weights' bit width; 0 leaves weights in float.
	WeightBits int `yaml:"weight_bits"`
	// ActivationBits is the output's bit width; 0 leaves it in float.
	ActivationBits int `yaml:"activation_bits"`
	// PerChannel selects one weight range per output channel. Nil means the
	// layer's default, as tfmot: per tensor for Dense, per channel for
	// convolutions.
	PerChannel *bool `yaml:"per_channel,omitempty"`
	// Asymmetric weights use [min, max] on the full grid instead of tfmot's
	// symmetric narrow range.
	Asymmetric bool `yaml:"asymmetric,omitempty"`
	// LearnableRanges makes the activation range trainable (Learnable)
	// instead of a moving average.
	LearnableRanges bool `yaml:"learnable_ranges,omitempty"`
}

// Validate checks the bit widths.
func (p Policy) Validate() error {
	if p.WeightBits != 0 {
		if err := ValidateBits(p.WeightBits); err != nil {
			return fmt.Errorf("weight_bits: %w", err)
		}
	}
	if p.ActivationBits != 0 {
		if err := ValidateBits(p.ActivationBits); err != nil {
			return fmt.Errorf("activation_bits: %w", err)
		}
	}
	return nil
}

// Scheme says, layer by layer, which quantizers a model gets.
type Scheme struct {
	// Default applies to every layer not named in Layers.
	Default Policy `yaml:"default"`
	// Layers overrides the policy of single layers, by layer name (mixed
	// precision).
	Layers map[string]Policy `yaml:"layers,omitempty"`
	// InputBits quantizes the model's input (tfmot: AllValues, 8 bits);
	// 0 leaves it in float.
	InputBits int `yaml:"input_bits"`
	// Decay is the activation ranges' EMA decay (EMADecay if 0).
	Decay float64 `yaml:"ema_decay,omitempty"`
	// Schedule delays quantization and freezes ranges and BN statistics.
	Schedule Schedule `yaml:"schedule,omitempty"`
	// TFMOT switches on tfmot's own behaviour where this project departs
	// from it (TFMOT8Bit sets all of it).
	TFMOT TFMOTCompat `yaml:"tfmot,omitempty"`
}

// TFMOTCompat reproduces tfmot 0.8.1 where this project's default differs
// from it on purpose.
type TFMOTCompat struct {
	// DepthwiseRangesByMultiplier gives a depthwise kernel [kh, kw, in, m]
	// its per-channel ranges along its last axis, m of them, as tfmot sizes
	// them (tfmot issue 808): a single range over all in*m output channels
	// for the usual multiplier 1. Off, each output channel has its own.
	DepthwiseRangesByMultiplier bool `yaml:"depthwise_ranges_by_multiplier,omitempty"`
	// FloatKernelBeforeReLU keeps the weights of a Conv2D, DepthwiseConv2D
	// or Dense whose output goes only to a ReLU layer in float, as tfmot's
	// LayerReLUQuantize transform does by giving the layer a no-op config.
	// Off, they are quantized as anywhere else (the output is quantized
	// after the ReLU either way).
	FloatKernelBeforeReLU bool `yaml:"float_kernel_before_relu,omitempty"`
	// BatchNormOutputAfterDense quantizes the output of a BatchNorm between
	// a linear Dense and a ReLU as well as the ReLU's, as tfmot does (its
	// Dense+BatchNorm transform runs before the Dense+BatchNorm+ReLU one,
	// which then leaves the pair alone). Off, the three are quantized once,
	// after the ReLU, as Conv2D+BatchNorm+ReLU is in both.
	BatchNormOutputAfterDense bool `yaml:"batch_norm_output_after_dense,omitempty"`
}

// Default8Bit is tfmot's default 8-bit scheme (quantize_model): 8-bit
// inputs, symmetric narrow-range weights (per channel for convolutions),
// 8-bit EMA activation ranges.
func Default8Bit() *Scheme {
	return &Scheme{Default: Policy{WeightBits: 8, ActivationBits: 8}, InputBits: 8}
}

// TFMOT8Bit is Default8Bit with every TFMOTCompat setting on: the scheme
// that trains bit for bit as tfmot's quantize_model, differences included.
func TFMOT8Bit() *Scheme {
	s := Default8Bit()
	s.TFMOT = TFMOTCompat{DepthwiseRangesByMultiplier: true, FloatKernelBeforeReLU: true, BatchNormOutputAfterDense: true}
	return s
}

// Compat returns the scheme's TFMOT settings (none for a nil scheme).
func (s *Scheme) Compat() TFMOTCompat {
	if s == nil {
		return TFMOTCompat{}
	}
	return s.TFMOT
}

// Bits returns a scheme with weightBits-bit weights and activationBits-bit
// activations (and input), otherwise as Default8Bit.
func Bits(weightBits, activationBits int) *Scheme {
	return &Scheme{Default: Policy{WeightBits: weightBits, ActivationBits: activationBits}, InputBits: activationBits}
}

// Validate checks every policy and the schedule.
func (s *Scheme) Validate() error {
	if s == nil {
		return nil
	}
	if err := s.Default.Validate(); err != nil {
		return fmt.Errorf("scheme default: %w", err)
	}
	for _, name := range s.layerNames() {
		if err := s.Layers[name].Validate(); err != nil {
			return fmt.Errorf("scheme layer %s: %w", name, err)
		}
	}
	if s.InputBits != 0 {
		if err := ValidateBits(s.InputBits); err != nil {
			return fmt.Errorf("scheme input_bits: %w", err)
		}
	}
	if s.Decay != 0 && !(s.Decay > 0 && s.Decay < 1) {
		return fmt.Errorf("scheme ema_decay %g must be in (0, 1)", s.Decay)
	}
	return s.Schedule.Validate()
}

func (s *Scheme) layerNames() []string {
	names := make([]string, 0, len(s.Layers))
	for n := range s.Layers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CheckLayers reports scheme entries for layers the model does not have,
// and per-channel settings on layers without weight channels. channels
// maps every layer name to whether it has weights with output channels.
func (s *Scheme) CheckLayers(channels map[string]bool) error {
	if s == nil {
		return nil
	}
	for _, name := range s.layerNames() {
		has, ok := channels[name]
		if !ok {
			return fmt.Errorf("scheme names layer %q, which the model does not have", name)
		}
		if p := s.Layers[name].PerChannel; p != nil && *p && !has {
			return fmt.Errorf("scheme layer %s: per_channel set, but the layer has no weights with channels", name)
		}
	}
	return nil
}

// Policy returns the policy of layer.
func (s *Scheme) Policy(layer string) Policy {
	if p, ok := s.Layers[layer]; ok {
		return p
	}
	return s.Default
}

// Weights returns the weight quantizer of layer (nil to keep float), whose
// default granularity is per channel when perChannelDefault is set.
func (s *Scheme) Weights(layer string, perChannelDefault bool) Quantizer {
	if s == nil {
		return nil
	}
	p := s.Policy(layer)
	if p.WeightBits == 0 {
		return nil
	}
	perChannel := perChannelDefault
	if p.PerChannel != nil {
		perChannel = *p.PerChannel
	}
	if p.Asymmetric {
		return LastValue{NumBits: p.WeightBits, PerChannel: perChannel}
	}
	return LastValue{NumBits: p.WeightBits, PerChannel: perChannel, Symmetric: true, NarrowRange: true}
}

// Activations returns the output quantizer of layer (nil to keep float).
func (s *Scheme) Activations(layer string) Quantizer {
	if s == nil {
		return nil
	}
	p := s.Policy(layer)
	if p.ActivationBits == 0 {
		return nil
	}
	if p.LearnableRanges {
		return Learnable{NumBits: p.ActivationBits}
	}
	q := ActivationsDefault(p.ActivationBits)
	if s.Decay != 0 {
		q.Decay = s.Decay
	}
	return q
}

// Input returns the model input's quantizer (nil to keep float).
func (s *Scheme) Input() Quantizer {
	if s == nil || s.InputBits == 0 {
		return nil
	}
	return AllValues{NumBits: s.InputBits}
}

func errNoChannels(dims []int64) error {
	return errors.New("per-channel range needs a tensor with a known last axis, got shape " + fmt.Sprint(dims))
}
