// Package infer runs a trained model where qat leaves it: a training run's
// folder (config.yaml, weights.npz and ranges.npz, as qat train writes
// them) or an exported SavedModel (saved_model.pb and variables/).
//
// A run folder is built as the trainer's inference graph (loop.Evaluator:
// fake quant on, reading the trained ranges; batch norms on their moving
// statistics); a SavedModel is loaded with TensorFlow's own loader
// (savedmodel.Load). For a model exported from a run folder both give the
// same logits bit for bit. Open takes either; Detect says which a path is.
package infer
