"""Converts a SavedModel written by qat-go into a fully integer TFLite model.

Run by `qat convert` with the project's Python (TensorFlow 2.21 from the
tensorflow-cpu wheel); the Go library itself never runs Python.

usage: tflite_convert.py SAVED_MODEL OUT.tflite [--int8-io]

The SavedModel's FakeQuant ops carry the ranges learned in training, so no
representative data set is needed: with Optimize.DEFAULT the converter turns
them into int8 weights (per channel for convolutions) and int8 activations.
A tensor left in float (other than a float input or output) is an error
rather than a silent float fallback. --int8-io also makes
the model's input and output int8 (default float32, quantized inside).
Prints one JSON line describing the input and output tensors.
"""
import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("saved_model")
    ap.add_argument("out")
    ap.add_argument("--int8-io", action="store_true")
    a = ap.parse_args()

    # From the signature's concrete function (rather than from_saved_model):
    # the converter then freezes the variables into a graph it inspects,
    # sees the FakeQuant ops and treats the model as quantization-aware
    # trained (from_saved_model on a TF1-style SavedModel asks for a
    # representative data set instead).
    loaded = tf.saved_model.load(a.saved_model)
    fn = loaded.signatures["serving_default"]
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn], loaded)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    # (target_spec.supported_ops = TFLITE_BUILTINS_INT8 would trip TF 2.21's
    # conversion metrics, which check it before seeing the graph; the
    # result is checked for float tensors below instead.)
    if a.int8_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    model = conv.convert()

    interp = tf.lite.Interpreter(model_content=model)
    def describe(d):
        scale, zero = d["quantization"]
        return {"name": d["name"], "dtype": d["dtype"].__name__, "shape": [int(v) for v in d["shape"]],
                "scale": float(scale), "zero_point": int(zero)}
    info = {"inputs": [describe(d) for d in interp.get_input_details()],
            "outputs": [describe(d) for d in interp.get_output_details()],
            "bytes": len(model)}
    ops = {d["op_name"] for d in interp._get_ops_details()}  # pylint: disable=protected-access
    info["ops"] = sorted(ops)
    io = {d["index"] for d in interp.get_input_details() + interp.get_output_details()}
    floats = [d["name"] for d in interp.get_tensor_details()
              if d["dtype"] == np.float32 and d["index"] not in io]
    if floats:
        sys.exit("the converted model still computes in float (tensors %s): is every op between "
                 "input and output fake-quantized?" % ", ".join(floats[:10]))

    out_dir = os.path.dirname(os.path.abspath(a.out))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".tflite", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(model)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, a.out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(json.dumps(info))


if __name__ == "__main__":
    sys.exit(main())
