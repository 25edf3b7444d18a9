// Package qat holds the quantization policies of quantization-aware
// training. Each policy is one type (FixedRange, LastValue, MovingAverage,
// AllValues, Learnable) that validates its numbers before any graph is
// built and then inserts TensorFlow FakeQuant ops, and the range variables
// they need, into a graph through an Env: the forward pass sees quantized
// values and gradients flow through TensorFlow's FakeQuant gradient
// kernels. A Scheme says which policy and bit width each layer's weights
// and outputs get; Default8Bit is tfmot's default 8-bit scheme, and the
// range arithmetic follows tfmot's quant_ops.py op for op. tfmot's numbers
// (EMA decay, initial range) are named once, in policies.go.
package qat
