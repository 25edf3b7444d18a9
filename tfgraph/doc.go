// Package tfgraph builds TensorFlow graphs from Go on top of the TF C API
// (through github.com/wamuir/graft) and differentiates them.
//
// A Graph records every operation it adds together with its inputs and
// attributes, so that Gradients can walk the graph backwards from a loss and
// ask a registry of gradient functions, keyed by op type, for each op's
// gradient — the way Python's tf.GradientTape does. The gradient functions
// mirror TensorFlow's Python ones op for op, so that a Go training step
// performs the same float32 arithmetic as the Python step it replaces; ops
// without a Go gradient can reuse TensorFlow's C++ gradient for that single
// op (TF_AddGradients).
//
// Graph builders never panic: the first error (a bad shape, an unknown op, a
// missing input) is kept, later calls become no-ops, and Err reports it.
package tfgraph
