"""Keras 3 losses in training steps, for qat-go's loss parity tests.

usage: loss_reference.py LOSS IN.npz OUT.npz --steps N --lr LR
                         [--label-smoothing LS] [--modes M1,M2,...]
  LOSS:    categorical_crossentropy, sparse_categorical_crossentropy,
           mean_squared_error or binary_crossentropy: Keras 3's loss class
           of that name, with from_logits=True for the cross-entropies (and
           label_smoothing LS where given), default reduction.
  IN.npz:  x [N, inputs], y (one-hot [N, K], class ids [N], targets or
           labels in [0, 1] [N, K]), and the weights of an MLP
           d1/kernel [inputs, H], d1/bias [H] (relu), d2/kernel [H, K],
           d2/bias [K] (logits).
  OUT.npz: for each mode M, M:loss (float32 [steps], each step's loss
           before its update) and the four weights after the steps,
           M:d1/kernel, ..., each run from the same initial weights.
  --modes  a comma-separated list (default function) of:
           function: each step is a tf.function GradientTape step of
             tf.matmul + tf.nn.bias_add layers (the ops qat-go's dense
             layers run) with the Keras loss object and
             keras.optimizers.Adam;
           eager: the same step run eagerly, op by op;
           train_on_batch: a keras.Sequential of two Dense layers compiled
             with Adam and the loss, stepped by model.train_on_batch.
Every mode runs on the whole of x every step, one thread.
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

NAMES = ["d1/kernel", "d1/bias", "d2/kernel", "d2/bias"]


def make_loss(name, ls):
    if name == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=ls)
    if name == "sparse_categorical_crossentropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if name == "mean_squared_error":
        return keras.losses.MeanSquaredError()
    if name == "binary_crossentropy":
        return keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=ls)
    raise SystemExit(f"unknown loss {name}")


def tape_steps(d, loss_fn, opt, steps, graph):
    w = [tf.Variable(d[n]) for n in NAMES]
    x, y = tf.constant(d["x"]), tf.constant(d["y"])

    def step():
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w[0]), w[1]))
            logits = tf.nn.bias_add(tf.matmul(h, w[2]), w[3])
            loss = loss_fn(y, logits)
        opt.apply_gradients(zip(tape.gradient(loss, w), w))
        return loss

    if graph:
        step = tf.function(step)
    losses = [step().numpy() for _ in range(steps)]
    return losses, [v.numpy() for v in w]


def keras_steps(d, loss_fn, opt, steps):
    model = keras.Sequential([
        keras.Input((d["x"].shape[1],)),
        keras.layers.Dense(d["d1/bias"].shape[0], activation="relu"),
        keras.layers.Dense(d["d2/bias"].shape[0]),
    ])
    model.set_weights([d[n] for n in NAMES])
    model.compile(optimizer=opt, loss=loss_fn)
    losses = [np.float32(model.train_on_batch(d["x"], d["y"])) for _ in range(steps)]
    return losses, model.get_weights()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("loss")
    p.add_argument("inp")
    p.add_argument("out")
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--modes", default="function")
    a = p.parse_args()
    d = dict(np.load(a.inp))
    out = {}
    for mode in a.modes.split(","):
        loss_fn = make_loss(a.loss, a.label_smoothing)
        opt = keras.optimizers.Adam(learning_rate=a.lr)
        if mode == "train_on_batch":
            losses, weights = keras_steps(d, loss_fn, opt, a.steps)
        elif mode in ("function", "eager"):
            losses, weights = tape_steps(d, loss_fn, opt, a.steps, mode == "function")
        else:
            raise SystemExit(f"unknown mode {mode}")
        out[mode + ":loss"] = np.array(losses, dtype=np.float32)
        out.update({mode + ":" + n: np.asarray(v, dtype=np.float32) for n, v in zip(NAMES, weights)})
    np.savez(a.out, **out)


if __name__ == "__main__":
    main()
