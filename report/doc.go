// Package report draws a training run's folder as pictures and one HTML
// page: the loss curve (losses.csv), per-epoch training and validation
// curves (history.csv, when present), each quantizer's range over the steps
// (ranges.csv), and per layer a histogram of the float weights
// (weights.npz) with the quantization grid of its quantizer drawn over it
// (ranges.npz and config.yaml's scheme, nudged as TensorFlow's FakeQuant
// kernels nudge it) and how many of the grid's levels the weights use.
//
// Write(dir) writes DIR/report.html and its PNGs in DIR/report/; the page
// shows every figure as text too (tables with the numbers the pictures
// draw), so a reader and a test can check them. It reads only the run's
// files: the trainer does not know about it, and it does not import loop.
package report
