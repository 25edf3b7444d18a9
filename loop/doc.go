// Package loop trains models built with tfgraph: optimizers as TensorFlow
// update ops, a train step that is one Session.Run returning the loss and
// applying every update (weights, moving-average ranges, batch-norm
// statistics, the step counter), a loop that runs steps and reports each
// one, evaluation through an inference graph on the same variables
// (Trainer.Evaluate) or in a session of its own (Evaluator), and range
// calibration (Calibrate), and checkpoints (Save, Restore, RestoreLatest) that
// resume a run bit for bit.
package loop
