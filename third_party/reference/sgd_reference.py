"""Keras 3 SGD steps in Python TensorFlow for qat-go's optimizer tests.

usage: sgd_reference.py IN.npz OUT.npz LR MOMENTUM WEIGHT_DECAY
IN.npz: var (initial value), grads ([steps, *var.shape]). LR and MOMENTUM
are decimal strings, read as Python floats as a user's script would write
them.
OUT.npz: the variable after keras.optimizers.SGD.apply_gradients for each
gradient in turn: plain (momentum 0), momentum (MOMENTUM) and nesterov
(MOMENTUM, nesterov=True), and nesterov_wd (the same with weight_decay
WEIGHT_DECAY).
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)


def train(d, opt):
    var = tf.Variable(d["var"])
    for g in d["grads"]:
        opt.apply_gradients([(tf.constant(g), var)])
    return var.numpy()


def main():
    d = np.load(sys.argv[1])
    lr, momentum, wd = (float(v) for v in sys.argv[3:6])
    sgd = tf.keras.optimizers.SGD
    np.savez(sys.argv[2],
             plain=train(d, sgd(learning_rate=lr)),
             momentum=train(d, sgd(learning_rate=lr, momentum=momentum)),
             nesterov=train(d, sgd(learning_rate=lr, momentum=momentum, nesterov=True)),
             nesterov_wd=train(d, sgd(learning_rate=lr, momentum=momentum, nesterov=True, weight_decay=wd)))


if __name__ == "__main__":
    main()
