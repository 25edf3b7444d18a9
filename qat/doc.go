// Package qat holds the quantization policies of quantization-aware
// training: each policy is one type that validates its numbers before any
// graph is built and then inserts TensorFlow FakeQuant ops into a
// tfgraph.Graph, so the forward pass sees quantized values and gradients
// flow through TensorFlow's FakeQuant gradient kernels.
package qat
