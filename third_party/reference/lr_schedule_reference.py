"""Keras 3 learning-rate schedules for qat-go's schedule tests.

usage: lr_schedule_reference.py SPECS.json IN.npz OUT.npz
SPECS.json: a list of {"name", "kind", "args"}: kind is a class of
keras.optimizers.schedules, args its keyword arguments.
IN.npz: var (initial value), grads ([steps, *var.shape]).
OUT.npz, per spec: NAME/rates (the schedule's float32 value at steps
0..63) and NAME/sgd (the variable after keras.optimizers.SGD with that
schedule and momentum 0.9 applied each gradient in turn).
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)


# Arguments a user's script writes as Python floats (JSON writes 0.0 as 0).
FLOATS = {"initial_learning_rate", "decay_rate", "alpha", "warmup_target"}


def main():
    specs = json.load(open(sys.argv[1]))
    d = np.load(sys.argv[2])
    out = {}
    for spec in specs:
        kind = getattr(tf.keras.optimizers.schedules, spec["kind"])
        args = {k: float(v) if k in FLOATS else v for k, v in spec["args"].items()}

        def make():
            return kind(**args)

        schedule = make()
        out[spec["name"] + "/rates"] = np.array(
            [schedule(tf.constant(step, tf.int64)).numpy() for step in range(64)], np.float32)
        var = tf.Variable(d["var"])
        opt = tf.keras.optimizers.SGD(learning_rate=make(), momentum=0.9)
        for g in d["grads"]:
            opt.apply_gradients([(tf.constant(g), var)])
        out[spec["name"] + "/sgd"] = var.numpy()
    np.savez(sys.argv[3], **out)


if __name__ == "__main__":
    main()
