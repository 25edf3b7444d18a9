"""Adam steps in Python TensorFlow for qat-go's optimizer tests.

usage: adam_reference.py IN.npz OUT.npz LR BETA_1 BETA_2 EPSILON [WEIGHT_DECAY]
IN.npz: var (initial value), grads ([steps, *var.shape]). The
hyper-parameters are decimal strings, read as Python floats as a user's
script would write them.
OUT.npz: keras (the variable after Keras 3 Adam.apply_gradients each step)
         and fused (after tf.raw_ops.ResourceApplyAdam each step, with
         beta powers pow(beta, step) in float32), and with WEIGHT_DECAY
         adamw (after Keras 3 AdamW with that weight_decay).
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)


def main():
    d = np.load(sys.argv[1])
    lr, b1, b2, eps = (float(v) for v in sys.argv[3:7])
    grads = d["grads"]

    var = tf.Variable(d["var"])
    opt = tf.keras.optimizers.Adam(learning_rate=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    for g in grads:
        opt.apply_gradients([(tf.constant(g), var)])
    keras = var.numpy()

    var = tf.Variable(d["var"])
    m = tf.Variable(tf.zeros_like(var))
    v = tf.Variable(tf.zeros_like(var))
    for t, g in enumerate(grads, start=1):
        step = tf.cast(tf.constant(t, tf.int64), tf.float32)
        tf.raw_ops.ResourceApplyAdam(
            var=var.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(tf.constant(b1, tf.float32), step),
            beta2_power=tf.pow(tf.constant(b2, tf.float32), step),
            lr=tf.constant(lr, tf.float32), beta1=tf.constant(b1, tf.float32),
            beta2=tf.constant(b2, tf.float32), epsilon=tf.constant(eps, tf.float32),
            grad=tf.constant(g), use_locking=False, use_nesterov=False)
    out = {"keras": keras, "fused": var.numpy()}
    if len(sys.argv) > 7:
        var = tf.Variable(d["var"])
        opt = tf.keras.optimizers.AdamW(learning_rate=lr, beta_1=b1, beta_2=b2, epsilon=eps,
                                        weight_decay=float(sys.argv[7]))
        for g in grads:
            opt.apply_gradients([(tf.constant(g), var)])
        out["adamw"] = var.numpy()
    np.savez(sys.argv[2], **out)


if __name__ == "__main__":
    main()
