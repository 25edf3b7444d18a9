// Package savedmodel writes trained models as TensorFlow SavedModels from
// Go: the inference graph (fake-quant ops with the trained ranges, batch
// norms with their moving statistics, no training ops) in saved_model.pb,
// written with TensorFlow's own protos, and the variables written by TF's
// SaveV2 kernel. TensorFlow Serving, Python's tf.saved_model.load, the
// TFLite converter, saved_model_cli and Go's LoadSavedModel read it.
package savedmodel
