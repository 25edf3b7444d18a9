"""Loads a SavedModel written by qat-go in Python TensorFlow (test oracle).

usage: savedmodel_check.py SAVED_MODEL IN.npz OUT.npz

Loads the folder with tf.saved_model.load, runs its serving_default
signature on IN.npz's x (float32 [N, ...]) and writes the `logits` to
OUT.npz, with `variables` (the number of variables the loader restored).
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
    logits = fn(x=tf.constant(x))["logits"].numpy()
    np.savez(out, logits=logits, variables=np.float32(len(loaded.variables)))


if __name__ == "__main__":
    main(*sys.argv[1:4])
