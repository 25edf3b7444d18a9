// Package tensorboard writes TensorBoard event files with TensorFlow's own
// summary kernels (Writer), and logs a training run into them (RunLogger):
// the loss, learning rate and steps per second, each quantizer's range and
// scale, and histograms of every float weight and of its fake-quantized
// value.
//
// The files are those tf.summary writes: a side graph holds a
// SummaryWriter resource and the WriteScalarSummary and
// WriteHistogramSummary ops of the linked libtensorflow, and
// `tensorboard --logdir DIR/logs` shows them.
package tensorboard
