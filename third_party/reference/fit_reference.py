"""Keras 3 Model.fit with validation data for qat-go's Fit tests.

usage: fit_reference.py IN.npz OUT.npz LR [DECAY_STEPS DECAY_RATE]
IN.npz: x0, y0, x1, y1, ... (each epoch's training examples in the order
qat's batcher gives them), x_val, y_val (one-hot), and the initial weights
d1/kernel, d1/bias, d2/kernel, d2/bias of a Dense(relu) -> Dense MLP;
with a key "sparse", the y are class ids instead of one-hot.
The model is compiled with Adam(LR) (with DECAY_STEPS and DECAY_RATE, Adam
with ExponentialDecay(LR, DECAY_STEPS, DECAY_RATE)), CategoricalCrossentropy(from_logits=True)
(SparseCategoricalCrossentropy with "sparse")
and metrics=["accuracy"] and fitted one epoch per fit call (shuffle=False,
batch_size 16, validation_data, initial_epoch), which keeps the optimizer
and gives each epoch its own order.
OUT.npz: loss, accuracy, val_loss, val_accuracy (float32, one per epoch, as
History reports them), learning_rate (float(optimizer.learning_rate) after
each epoch) and the final d1/kernel, d1/bias, d2/kernel, d2/bias.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402


def main():
    d = np.load(sys.argv[1])
    lr = float(sys.argv[3])
    if len(sys.argv) > 5:
        lr = keras.optimizers.schedules.ExponentialDecay(lr, int(sys.argv[4]), float(sys.argv[5]))
    k1, k2 = d["d1/kernel"], d["d2/kernel"]
    model = keras.Sequential([
        keras.Input((k1.shape[0],)),
        keras.layers.Dense(k1.shape[1], activation="relu", name="d1"),
        keras.layers.Dense(k2.shape[1], name="d2"),
    ])
    model.get_layer("d1").set_weights([k1, d["d1/bias"]])
    model.get_layer("d2").set_weights([k2, d["d2/bias"]])
    if "sparse" in d:  # y are class ids
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=loss, metrics=["accuracy"])
    out = {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")}
    epoch = 0
    while f"x{epoch}" in d:
        h = model.fit(d[f"x{epoch}"], d[f"y{epoch}"], batch_size=16, epochs=epoch + 1, initial_epoch=epoch,
                      shuffle=False, validation_data=(d["x_val"], d["y_val"]), verbose=0)
        for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
            out[k].append(h.history[k][0])
        out["learning_rate"].append(float(model.optimizer.learning_rate))
        epoch += 1
    res = {k: np.array(v, dtype=np.float32) for k, v in out.items()}
    for name in ("d1", "d2"):
        kernel, bias = model.get_layer(name).get_weights()
        res[name + "/kernel"], res[name + "/bias"] = kernel, bias
    np.savez(sys.argv[2], **res)


if __name__ == "__main__":
    main()
