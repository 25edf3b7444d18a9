"""Saves Keras models for `qat import`'s tests, with Keras's logits (oracle).

usage: keras_import_models.py OUT_DIR NAME...

For each NAME it builds a model, gives every weight (batch-norm statistics
too) seeded random values, saves it and writes OUT_DIR/NAME.npz with x
(8 random inputs) and logits (the model's output for x, training=False,
with the final softmax left out, which qat import leaves out too), computed
eagerly on one thread; for tf_keras models also logits_unfused, the same
with every BatchNormalization on its non-fused path (fused=False). NAMEs:

  seq      Keras 3 Sequential: Conv2D-BN-MaxPool-Conv2D(no bias)-BN-ReLU6-
           DepthwiseConv2D-AvgPool-Flatten-Dense(relu)-Dense(softmax);
           saved as seq.keras and seq.h5
  func     Keras 3 Functional: Conv-BN-ReLU, a residual Add,
           DepthwiseConv2D, Concatenate on channels and on height,
           ZeroPadding2D, GlobalAveragePooling2D, Dropout, Reshape, Dense; saved as
           func.keras and func.h5
  legacy   the same layers as seq built with tf_keras (TF_USE_LEGACY_KERAS's
           Keras 2); saved as legacy.h5 and the SavedModel folder legacy_sm
  bad_lstm, bad_dilation, bad_groups, bad_center, bad_channels_first,
  bad_leaky
           Keras 3 models with a layer or a setting qat lacks, saved as
           NAME.keras (no npz)
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)


def seq_layers(L):
    return [
        L.Conv2D(6, 3, padding="same", activation="relu", name="c1"),
        L.BatchNormalization(name="bn1"),
        L.MaxPooling2D(name="p1"),
        L.Conv2D(8, (3, 2), strides=(1, 2), use_bias=False, name="c2"),
        L.BatchNormalization(momentum=0.9, epsilon=1e-4, name="bn2"),
        L.ReLU(max_value=6.0, name="r2"),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6", name="dw"),
        L.AveragePooling2D(pool_size=2, strides=1, name="ap"),
        L.Flatten(name="f"),
        L.Dense(16, activation="relu", name="d1"),
        L.Activation("linear", name="lin"),
        L.Dense(5, activation="softmax", name="d"),
    ]


def func_model(keras):
    L = keras.layers
    x = keras.Input((10, 10, 3), name="image")
    r1 = L.ReLU(name="r1")(L.BatchNormalization(name="bn1")(L.Conv2D(8, 3, use_bias=False, name="c1")(x)))
    b2 = L.BatchNormalization(name="bn2")(L.Conv2D(8, 3, padding="same", name="c2")(r1))
    r = L.ReLU(max_value=6, name="r2")(L.Add(name="add")([r1, b2]))
    d = L.DepthwiseConv2D(3, padding="same", name="dw")(r)
    cat = L.Concatenate(name="cat")([r, d])
    cat2 = L.Concatenate(axis=1, name="cat_h")([L.Conv2D(16, 1, name="c3")(r), cat])
    # Padding right before a Conv2D: the pair TF's oneDNN graph pass would
    # fuse into one kernel, which qat's ZeroPadding2D keeps apart.
    g = L.GlobalAveragePooling2D(name="gap")(L.Conv2D(8, 3, name="c5")(L.ZeroPadding2D(((1, 0), (2, 1)), name="zp")(cat2)))
    rs = L.Reshape((2, -1), name="rs")(L.Dropout(0.3, name="drop")(g))
    y = L.Dense(4, name="logits")(L.Flatten(name="f")(rs))
    return keras.Model(x, y, name="func")


def randomize(model, rng):
    """Seeded values for every weight: kernels ~ N(0, 1/fan_in), biases,
    gamma, beta and moving means ~ N(0, 0.3) (+1 for gamma), moving
    variances ~ U(0.5, 2)."""
    for layer in model.layers:
        vals = []
        for v in layer.weights:
            name = v.name.split("/")[-1].split(":")[0]
            shape = tuple(v.shape)
            if name == "moving_variance":
                a = rng.uniform(0.5, 2.0, shape)
            elif len(shape) > 1:
                a = rng.normal(0, 1 / np.sqrt(np.prod(shape[:-1])), shape)
            else:
                a = rng.normal(1.0 if name == "gamma" else 0.0, 0.3, shape)
            vals.append(a.astype(np.float32))
        if vals:
            layer.set_weights(vals)


def logits(model, x):
    """The model's output for x with the last layer's softmax left out."""
    last = model.layers[-1]
    act = getattr(last, "activation", None)
    if getattr(act, "__name__", "") == "softmax":
        last.activation = linear_of(model)
    return model(x, training=False).numpy()


def linear_of(model):
    if type(model).__module__.startswith("tf_keras"):
        import tf_keras
        return tf_keras.activations.linear
    import keras
    return keras.activations.linear


def save_case(out, name, model, rng, files):
    randomize(model, rng)
    for f in files:
        model.save(os.path.join(out, f))
    x = rng.normal(size=(8,) + tuple(model.input_shape[1:])).astype(np.float32)
    ref = {"x": x, "logits": logits(model, x)}
    bns = [l for l in model.layers if getattr(l, "fused", None)]
    if bns:
        # tf_keras runs inference batch norm on 4-D inputs as
        # FusedBatchNormV3, (x - mean) * inv + beta; its non-fused path (and
        # Keras 3's, and qat's) is x * inv + (beta - mean * inv).
        for l in bns:
            l.fused = False
        ref["logits_unfused"] = logits(model, x)
    np.savez(os.path.join(out, name + ".npz"), **ref)


def bad(keras, name):
    L = keras.layers
    body = {
        "bad_lstm": (keras.Input((5, 3)), [L.LSTM(4, name="lstm_1"), L.Dense(2)]),
        "bad_dilation": (keras.Input((9, 9, 1)), [L.Conv2D(2, 3, dilation_rate=2, name="c"), L.Flatten(), L.Dense(2)]),
        "bad_groups": (keras.Input((6, 6, 4)), [L.Conv2D(4, 3, groups=2, name="c"), L.Flatten(), L.Dense(2)]),
        "bad_center": (keras.Input((6, 6, 2)), [L.BatchNormalization(center=False, name="bn"), L.Flatten(), L.Dense(2)]),
        "bad_channels_first": (keras.Input((2, 6, 6)), [L.Conv2D(2, 3, data_format="channels_first", name="c"), L.Flatten(), L.Dense(2)]),
        "bad_leaky": (keras.Input((4,)), [L.Dense(3, activation="leaky_relu", name="d1"), L.Dense(2)]),
    }[name]
    return keras.Sequential([body[0]] + body[1], name=name)


def main(out, names):
    rng = np.random.default_rng(7)
    for name in names:
        if name == "seq":
            import keras
            m = keras.Sequential([keras.Input((12, 12, 2))] + seq_layers(keras.layers), name="seq")
            save_case(out, name, m, rng, ["seq.keras", "seq.h5"])
        elif name == "func":
            import keras
            save_case(out, name, func_model(keras), rng, ["func.keras", "func.h5"])
        elif name == "legacy":
            import tf_keras
            m = tf_keras.Sequential([tf_keras.Input((12, 12, 2))] + seq_layers(tf_keras.layers), name="legacy")
            save_case(out, name, m, rng, ["legacy.h5", "legacy_sm"])
        elif name.startswith("bad_"):
            import keras
            bad(keras, name).save(os.path.join(out, name + ".keras"))
        else:
            sys.exit(f"unknown model {name}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
