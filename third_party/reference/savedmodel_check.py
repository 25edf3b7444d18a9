"""Loads a SavedModel written by qat-go in Python TensorFlow (test oracle).

usage: savedmodel_check.py SAVED_MODEL IN.npz OUT.npz

Loads the folder with tf.saved_model.load (which reads a TF1-style
SavedModel through load_v1_in_v2: it restores the variables with the
SaverDef's restore op and exposes the signatures), runs its
serving_default signature on IN.npz's x (float32 [N, ...]) and writes to
OUT.npz the `logits` and the value of every variable the loader found,
under `variable/<name>`.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)


def main(model_dir, inp, out):
    loaded = tf.saved_model.load(model_dir)
    fn = loaded.signatures["serving_default"]
    x = np.load(inp)["x"].astype(np.float32)
    result = {"logits": fn(x=tf.constant(x))["logits"].numpy()}
    for v in loaded.variables:
        result["variable/" + v.name.split(":")[0]] = v.numpy()
    np.savez(out, **result)


if __name__ == "__main__":
    main(*sys.argv[1:4])
