// Package inspect describes a trained model, from a run folder or a
// SavedModel (see package infer): its layers with their output shapes and
// parameter counts, every quantizer with its bit width, range, and the
// scale and zero point TensorFlow's FakeQuant kernels use for it, and the
// op types of its TensorFlow graph. Inspect returns a Report; `qat inspect`
// prints it as a table or, with --json, as the Report's JSON.
//
// Where the facts come from:
//
//   - Layers of a run folder are the config's layers (type as in the
//     config); of a SavedModel, the graph's top-level name scopes in
//     graph order, typed by their main TensorFlow op (MatMul, Conv2D, ...),
//     as a SavedModel has no layer list. Output shapes are TensorFlow's
//     shape inference per example; parameters count every model variable
//     (weights, biases, batch-norm statistics, as Keras's count_params()
//     does) and not the quantizer ranges.
//   - Quantizers are the graph's FakeQuantWithMinMaxVars and
//     FakeQuantWithMinMaxVarsPerChannel ops that the output depends on,
//     with their num_bits and narrow_range attributes and the values of
//     their min and max inputs (the trained range variables or constants)
//     read from a session. Scale, zero point and the nudged range are
//     qat.NudgeGrid's: the kernels' own computation, in float32.
//   - Op counts are over the ops the model's output depends on: for a run
//     folder in the inference graph built from config.yaml (the graph
//     loop.Evaluator runs and qat export writes), for a SavedModel in the
//     GraphDef of saved_model.pb's MetaGraphDef tagged "serve" (functions
//     in its library, which Python's tf.saved_model.save uses, are not
//     looked into).
package inspect
