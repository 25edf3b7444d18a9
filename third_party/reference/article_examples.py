"""Reference run of the article's three QAT examples in Python TensorFlow.

The layer, model, loss and train_step code below is the article's own
(../shared/reference/qat-with-gradienttape-article.md), unchanged except that
the initial weights and data come from an .npz written by the Go side, so both
sides start from the same numbers. Used only by qat-go's parity tests.

usage: article_examples.py EXAMPLE IN.npz OUT.npz [--steps N] [--lr LR]
  IN.npz:  x, y, layer1/weight_fp, layer1/bias_fp[, layer2/...]
  OUT.npz: losses (float32 [steps]) and the final weights under the same names
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)


# --- Example 1 (article) ---
class QuantizedDense(tf.keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super(QuantizedDense, self).__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w_fp = self.add_weight(shape=(input_shape[-1], self.units),
                                    initializer="glorot_uniform",
                                    trainable=True,
                                    name='weight_fp')
        self.b_fp = self.add_weight(shape=(self.units,),
                                    initializer="zeros",
                                    trainable=True,
                                    name='bias_fp')

    def call(self, inputs):
        scale_w = 0.1
        w_quant = tf.quantization.fake_quant_with_min_max_vars(self.w_fp, min=-1.0 * scale_w, max=1.0 * scale_w)
        b_quant = tf.quantization.fake_quant_with_min_max_vars(self.b_fp, min=-1.0 * scale_w, max=1.0 * scale_w)
        return tf.matmul(inputs, w_quant) + b_quant


# --- Examples 2 and 3 (article) ---
class QuantizedLayer(tf.keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super(QuantizedLayer, self).__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w_fp = self.add_weight(shape=(input_shape[-1], self.units),
                                    initializer="glorot_uniform",
                                    trainable=True,
                                    name='weight_fp')
        self.b_fp = self.add_weight(shape=(self.units,),
                                    initializer="zeros",
                                    trainable=True,
                                    name='bias_fp')

    def call(self, inputs):
        scale_w = 0.1
        scale_a = 1.0
        w_quant = tf.quantization.fake_quant_with_min_max_vars(self.w_fp, min=-1.0 * scale_w, max=1.0 * scale_w)
        b_quant = tf.quantization.fake_quant_with_min_max_vars(self.b_fp, min=-1.0 * scale_w, max=1.0 * scale_w)
        output = tf.matmul(inputs, w_quant) + b_quant
        output_quant = tf.quantization.fake_quant_with_min_max_vars(output, min=-1.0 * scale_a, max=1.0 * scale_a)
        return output_quant


class QuantizedModel(tf.keras.Model):
    def __init__(self):
        super(QuantizedModel, self).__init__()
        self.layer1 = QuantizedLayer(32)
        self.layer2 = QuantizedLayer(10)

    def call(self, x):
        x = self.layer1(x)
        return self.layer2(x)


def train_step(model, x, y, optimizer):
    with tf.GradientTape() as tape:
        y_pred = model(x)
        loss = tf.keras.losses.CategoricalCrossentropy(from_logits=True)(y, y_pred)
    grads = tape.gradient(loss, [var for var in model.trainable_variables if 'fp' in var.name])
    optimizer.apply_gradients(zip(grads, [var for var in model.trainable_variables if 'fp' in var.name]))
    return loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("example", type=int, choices=[1, 2, 3])
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.01)
    a = ap.parse_args()

    data = np.load(a.inp)
    x = tf.constant(data["x"])
    y = tf.constant(data["y"])
    if a.example == 1:
        model = tf.keras.Sequential([QuantizedDense(2)])
    elif a.example == 2:
        model = tf.keras.Sequential([QuantizedLayer(2)])
    else:
        model = QuantizedModel()
    model(x)  # build
    if a.example == 3:
        layers = {"layer1": model.layer1, "layer2": model.layer2}
    else:
        layers = {"layer1": model.layers[0]}
    for name, layer in layers.items():
        layer.w_fp.assign(data[name + "/weight_fp"])
        layer.b_fp.assign(data[name + "/bias_fp"])

    optimizer = tf.keras.optimizers.Adam(learning_rate=a.lr)
    losses = []
    for _ in range(a.steps):
        loss = train_step(model, x, y, optimizer)
        losses.append(loss.numpy())
    out = {"losses": np.array(losses, dtype=np.float32)}
    for name, layer in layers.items():
        out[name + "/weight_fp"] = layer.w_fp.numpy()
        out[name + "/bias_fp"] = layer.b_fp.numpy()
    np.savez(a.out, **out)


if __name__ == "__main__":
    main()
