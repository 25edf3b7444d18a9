// Package savedmodel writes trained models as TensorFlow SavedModels, from
// Go and without Python: TensorFlow Serving, the C++ and Go loaders
// (LoadSavedModel), Python's tf.saved_model.load, saved_model_cli and the
// TFLite converter read them.
//
// A folder written by Export holds
//
//	saved_model.pb                            SavedModel proto, schema version 1
//	variables/variables.index                 checkpoint written by TF's SaveV2
//	variables/variables.data-00000-of-00001
//
// saved_model.pb has one MetaGraphDef tagged "serve": the inference graph
// (fake-quant ops reading the stored ranges, batch norms with their moving
// statistics, no training ops), a SaverDef whose restore op (RestoreV2 and
// one AssignVariableOp per variable) loaders run with the checkpoint
// prefix fed to "save/Const:0", the variables collection Python's loader
// lifts variables from, and the signature "serving_default" from input "x"
// to output "logits". Every variable is a VarHandleOp whose shared_name is
// its name, which is also its key in the checkpoint.
//
// The values are stored once, in the checkpoint. The graph keeps no
// constants with them, and each variable's initializer (in its
// VariableDef) is its restore from the checkpoint; no init op is
// registered, so nothing overwrites the restored values after loading.
package savedmodel
