"""Runs a TFLite model with TensorFlow's TFLite interpreter (test oracle).

usage: tflite_run.py MODEL.tflite IN.npz OUT.npz

IN.npz has x (float32, [N, ...input]). Each example is run alone (batch 1,
as the model's input shape says); an int8 input is quantized with the
input tensor's scale and zero point. OUT.npz gets `raw` (the output tensor
as stored, int8 or float32, as float32), `logits` (dequantized to float32),
`scale` and `zero_point` of the output.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main(model, inp, out):
    x = np.load(inp)["x"].astype(np.float32)
    it = tf.lite.Interpreter(model_path=model, num_threads=1)
    ind, outd = it.get_input_details()[0], it.get_output_details()[0]
    shape = list(ind["shape"])
    shape[0] = 1
    it.resize_tensor_input(ind["index"], shape)
    it.allocate_tensors()
    in_scale, in_zero = ind["quantization"]
    out_scale, out_zero = outd["quantization"]
    raw, logits = [], []
    for i in range(x.shape[0]):
        xi = x[i:i + 1].reshape(shape)
        if ind["dtype"] == np.int8:
            xi = np.clip(np.round(xi / in_scale) + in_zero, -128, 127).astype(np.int8)
        it.set_tensor(ind["index"], xi)
        it.invoke()
        r = it.get_tensor(outd["index"])[0]
        raw.append(r.astype(np.float32))
        if outd["dtype"] == np.int8:
            logits.append(((r.astype(np.float32) - out_zero) * out_scale).astype(np.float32))
        else:
            logits.append(r.astype(np.float32))
    np.savez(out, raw=np.stack(raw), logits=np.stack(logits),
             scale=np.float32(out_scale), zero_point=np.float32(out_zero))


if __name__ == "__main__":
    main(*sys.argv[1:4])
