// Package loop trains models built with tfgraph: optimizers as TensorFlow
// update ops, a train step that is one Session.Run returning the loss and
// applying every update (weights, moving-average ranges, batch-norm
// statistics, the step counter), a loop that runs steps and reports each
// one, evaluation through an inference graph on the same variables
// (Trainer.Evaluate) or in a session of its own (Evaluator), and range
// calibration (Calibrate), and checkpoints (Save, Restore, RestoreLatest) that
// resume a run bit for bit.
//
// A program that trains calls tfgraph.KeepFreedMemory once, early in main
// (qat's commands do): without it, glibc's malloc often returns each
// step's freed activations to the kernel and faults them back in during
// the next step.
package loop
