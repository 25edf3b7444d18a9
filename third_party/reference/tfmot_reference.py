"""Reference QAT training run with TensorFlow Model Optimization (tfmot).

Builds a float tf_keras model, quantizes it with
tfmot.quantization.keras.quantize_model (default 8-bit scheme), loads the float
kernels and biases from an .npz written by the Go side, then trains it with a
GradientTape loop and tf_keras Adam. Used only by qat-go's parity tests.

usage: tfmot_reference.py MODEL IN.npz OUT.npz --steps N --lr LR [--eval]
                          [--mode eager|function|train_on_batch] [--verbose]
  MODEL:   mlp  Input(784) -> Dense(128, relu, 'd1') -> Dense(10, 'd2')
           cnn  Input(28,28,1) -> Conv2D(8,3,relu,'c1') -> MaxPooling2D(2,'p1')
                -> Conv2D(16,3,relu,'c2') -> Flatten('f') -> Dense(10,'d')
           mlp_bn  Input(784) -> Dense(64,'d1') -> BatchNormalization('bn1')
                -> Dense(32,relu,'d2') -> Dense(10,'d3')   (BN's non-fused path)
           mlp_bn_relu  Input(784) -> Dense(64,'d1') -> BN('bn1') -> ReLU('r1')
                -> Dense(10,'d2')
           cnn_relu  Input(28,28,1) -> Conv2D(8,3,'c1') -> ReLU('r1')
                -> MaxPooling2D(2,'p1') -> Flatten('f') -> Dense(32,'d1')
                -> ReLU('r2') -> Dense(10,'d2')
           mobilenetv2_block  Input(28,28,1) -> Conv2D(8,3,stride 2)-BN-ReLU6
                ('c0','bn0','r0') -> x; x -> Conv2D(16,1)-BN-ReLU6 ('expand',
                'bn1','r1') -> DepthwiseConv2D(3)-BN-ReLU6 ('dw','bn2','r2')
                -> Conv2D(8,1)-BN ('project','bn3') -> Add('add') with x
                -> Flatten('f') -> Dense(10,'d')   (convs: same, no bias)
           resnet_block  Input(28,28,1) -> Conv2D(8,3,stride 2)-BN-ReLU
                ('c0','bn0','r0') -> x; x -> Conv2D(8,3)-BN-ReLU ('c1','bn1',
                'r1') -> Conv2D(8,3)-BN ('c2','bn2') -> Add('add') with x
                -> ReLU('r2') -> Flatten('f') -> Dense(10,'d')
           cnn_bn  Input(28,28,1) -> Conv2D(8,3,no bias,'c1')
                -> BatchNormalization('bn1') -> ReLU('r1') -> MaxPooling2D(2,'p1')
                -> Conv2D(16,3,'c2') -> BatchNormalization('bn2') -> ReLU('r2')
                -> Flatten('f') -> Dense(10,'d')
           mobilenet_block  Input(28,28,1) -> Conv2D(8,3,stride 2,same,no
                bias,'c1') -> BN('bn1') -> ReLU(6,'r1') -> DepthwiseConv2D(3,
                same,no bias,'dw') -> BN('bn2') -> ReLU(6,'r2') -> Conv2D(16,1,
                no bias,'pw') -> BN('bn3') -> ReLU(6,'r3') -> Flatten('f')
                -> Dense(10,'d')
  IN.npz:  x [steps, batch, *input], y one-hot [steps, batch, 10],
           <layer>/kernel (Keras layout), <layer>/bias,
           <layer>/depthwise_kernel, <layer>/gamma, <layer>/beta, and
           optionally <layer>/moving_mean, <layer>/moving_variance
  OUT.npz: loss (float32 [steps]); after training, under Go-style names:
           the weights above (moving statistics included),
           <layer>/kernel_min, <layer>/kernel_max (a depthwise kernel's too),
           <layer>/post_activation_min, <layer>/post_activation_max (a ReLU
           layer's output range too), quantize_layer/min, quantize_layer/max;
           with --eval also logits_infer = model(x[0], training=False).
  --mode   how each step runs: eager (default; a GradientTape loop run op by
           op), function (the same step under tf.function, so in graph mode
           with Grappler) or train_on_batch (Keras's compiled train step:
           model.compile(Adam, CategoricalCrossentropy(from_logits=True))).
           --eval's inference call follows the mode too.
  --verbose prints the tfmot variable -> Go name mapping (and the ignored
  optimizer_step counters) to stderr.
"""
import argparse
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
import tf_keras
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.quantization.keras import (
    quantize_layer as tfmot_quantize_layer,
    quantize_wrapper as tfmot_quantize_wrapper,
)

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

layers = tf_keras.layers

# Suffixes of a QuantizeWrapper's variables (the part after the last '/'),
# kept as the Go name's suffix.
WRAPPER_SUFFIXES = ("kernel", "bias", "kernel_min", "kernel_max",
                    "depthwise_kernel", "depthwise_kernel_min",
                    "depthwise_kernel_max",
                    "gamma", "beta", "moving_mean", "moving_variance",
                    "output_min", "output_max",
                    "post_activation_min", "post_activation_max")

# tfmot suffixes saved under the Go model's: a ReLU layer's output
# quantizer is its post_activation, a depthwise kernel's range is the kernel's.
GO_SUFFIXES = {"output_min": "post_activation_min",
               "output_max": "post_activation_max",
               "depthwise_kernel_min": "kernel_min",
               "depthwise_kernel_max": "kernel_max"}

MODELS = ["mlp", "cnn", "mlp_bn", "mlp_bn_relu", "cnn_relu", "cnn_bn",
          "mobilenet_block", "mobilenetv2_block", "resnet_block"]


def build_float_model(name):
    if name == "mlp":
        return tf_keras.Sequential([
            tf_keras.Input((784,)),
            layers.Dense(128, activation="relu", name="d1"),
            layers.Dense(10, name="d2"),
        ])
    if name == "mlp_bn":
        return tf_keras.Sequential([
            tf_keras.Input((784,)),
            layers.Dense(64, name="d1"),
            layers.BatchNormalization(name="bn1"),
            layers.Dense(32, activation="relu", name="d2"),
            layers.Dense(10, name="d3"),
        ])
    if name == "mlp_bn_relu":
        return tf_keras.Sequential([
            tf_keras.Input((784,)),
            layers.Dense(64, name="d1"),
            layers.BatchNormalization(name="bn1"),
            layers.ReLU(name="r1"),
            layers.Dense(10, name="d2"),
        ])
    if name == "cnn_relu":
        return tf_keras.Sequential([
            tf_keras.Input((28, 28, 1)),
            layers.Conv2D(8, 3, name="c1"),
            layers.ReLU(name="r1"),
            layers.MaxPooling2D(2, name="p1"),
            layers.Flatten(name="f"),
            layers.Dense(32, name="d1"),
            layers.ReLU(name="r2"),
            layers.Dense(10, name="d2"),
        ])
    if name == "mobilenetv2_block":
        return mobilenetv2_block()
    if name == "resnet_block":
        return resnet_block()
    if name == "cnn_bn":
        return tf_keras.Sequential([
            tf_keras.Input((28, 28, 1)),
            layers.Conv2D(8, 3, use_bias=False, name="c1"),
            layers.BatchNormalization(name="bn1"),
            layers.ReLU(name="r1"),
            layers.MaxPooling2D(2, name="p1"),
            layers.Conv2D(16, 3, name="c2"),
            layers.BatchNormalization(name="bn2"),
            layers.ReLU(name="r2"),
            layers.Flatten(name="f"),
            layers.Dense(10, name="d"),
        ])
    if name == "mobilenet_block":
        return tf_keras.Sequential([
            tf_keras.Input((28, 28, 1)),
            layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False,
                          name="c1"),
            layers.BatchNormalization(name="bn1"),
            layers.ReLU(6.0, name="r1"),
            layers.DepthwiseConv2D(3, padding="same", use_bias=False,
                                   name="dw"),
            layers.BatchNormalization(name="bn2"),
            layers.ReLU(6.0, name="r2"),
            layers.Conv2D(16, 1, use_bias=False, name="pw"),
            layers.BatchNormalization(name="bn3"),
            layers.ReLU(6.0, name="r3"),
            layers.Flatten(name="f"),
            layers.Dense(10, name="d"),
        ])
    return tf_keras.Sequential([
        tf_keras.Input((28, 28, 1)),
        layers.Conv2D(8, 3, activation="relu", name="c1"),
        layers.MaxPooling2D(2, name="p1"),
        layers.Conv2D(16, 3, activation="relu", name="c2"),
        layers.Flatten(name="f"),
        layers.Dense(10, name="d"),
    ])


def conv_bn(x, filters, kernel, name, bn, relu=None, strides=1):
    """Conv2D (no bias, same padding) -> BatchNormalization [-> ReLU]."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same",
                      use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=bn)(x)
    if relu:
        x = layers.ReLU(relu[1], name=relu[0])(x)
    return x


def mobilenetv2_block():
    """A stem, then MobileNetV2's inverted residual block."""
    inp = tf_keras.Input((28, 28, 1))
    x = conv_bn(inp, 8, 3, "c0", "bn0", ("r0", 6.0), strides=2)
    h = conv_bn(x, 16, 1, "expand", "bn1", ("r1", 6.0))
    h = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(h)
    h = layers.BatchNormalization(name="bn2")(h)
    h = layers.ReLU(6.0, name="r2")(h)
    h = conv_bn(h, 8, 1, "project", "bn3")
    x = layers.Add(name="add")([x, h])
    x = layers.Flatten(name="f")(x)
    return tf_keras.Model(inp, layers.Dense(10, name="d")(x))


def resnet_block():
    """A stem, then ResNet's basic block."""
    inp = tf_keras.Input((28, 28, 1))
    x = conv_bn(inp, 8, 3, "c0", "bn0", ("r0", None), strides=2)
    h = conv_bn(x, 8, 3, "c1", "bn1", ("r1", None))
    h = conv_bn(h, 8, 3, "c2", "bn2")
    x = layers.Add(name="add")([x, h])
    x = layers.ReLU(name="r2")(x)
    x = layers.Flatten(name="f")(x)
    return tf_keras.Model(inp, layers.Dense(10, name="d")(x))


def short(var):
    return var.name.split(":")[0].split("/")[-1]


def map_variables(qmodel):
    """Returns ({go_name: variable}, [optimizer_step variable names]).

    Fails if a variable of the quantized model is neither mapped nor an
    optimizer_step counter, or if two variables get the same Go name.
    """
    mapping, counters = {}, []

    def put(go_name, var):
        if go_name in mapping:
            sys.exit(f"duplicate Go name {go_name}: {mapping[go_name].name} "
                     f"and {var.name}")
        mapping[go_name] = var

    for layer in qmodel.layers:
        if isinstance(layer, layers.InputLayer):  # a functional model's
            continue
        if isinstance(layer, tfmot_quantize_layer.QuantizeLayer):
            qv = layer.quantizer_vars
            put("quantize_layer/min", qv["min_var"])
            put("quantize_layer/max", qv["max_var"])
        elif isinstance(layer, tfmot_quantize_wrapper.QuantizeWrapper):
            for var in layer.weights:
                s = short(var)
                if s in WRAPPER_SUFFIXES:
                    put(f"{layer.layer.name}/{GO_SUFFIXES.get(s, s)}", var)
        else:
            sys.exit(f"unexpected layer {layer.name} "
                     f"({type(layer).__name__}) in the quantized model")

    mapped = {id(v) for v in mapping.values()}
    unmapped = []
    for var in qmodel.variables:
        if id(var) in mapped:
            continue
        if short(var) == "optimizer_step":
            counters.append(var.name)
        else:
            unmapped.append(var.name)
    if unmapped:
        sys.exit("unmapped tfmot variables: " + ", ".join(unmapped))
    trainable = {id(v) for v in qmodel.trainable_variables}
    if not trainable <= mapped:
        sys.exit("unmapped trainable variables")
    return mapping, counters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--eval", action="store_true")
    ap.add_argument("--mode", choices=("eager", "function", "train_on_batch"),
                    default="eager")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()

    data = np.load(a.inp)
    x = np.asarray(data["x"], dtype=np.float32)
    y = np.asarray(data["y"], dtype=np.float32)
    if x.shape[0] < a.steps or y.shape[0] < a.steps:
        sys.exit(f"IN.npz has {x.shape[0]} batches of x and {y.shape[0]} of "
                 f"y, --steps is {a.steps}")

    qmodel = tfmot.quantization.keras.quantize_model(build_float_model(a.model))
    mapping, counters = map_variables(qmodel)

    params = sorted(k for k in data.files if k not in ("x", "y"))
    wanted = sorted(k for k, v in mapping.items() if v.trainable)
    # Batch norms' moving statistics may come too; quantizer ranges not.
    stats = [k for k in params if k not in wanted and k in mapping
             and k.endswith(("/moving_mean", "/moving_variance"))]
    if sorted(set(params) - set(stats)) != wanted:
        sys.exit(f"IN.npz weights {params} != model's {wanted} "
                 f"(+ moving statistics)")
    for k in params:
        if tuple(data[k].shape) != tuple(mapping[k].shape):
            sys.exit(f"IN.npz {k} has shape {data[k].shape}, the model "
                     f"{tuple(mapping[k].shape)}")
        mapping[k].assign(np.asarray(data[k], dtype=np.float32))

    if a.verbose:
        for k, v in sorted(mapping.items()):
            print(f"{v.name:45s} -> {k}  {tuple(v.shape)}", file=sys.stderr)
        for name in counters:
            print(f"{name:45s} -> (not saved: optimizer_step counter)",
                  file=sys.stderr)
        print("trainable order: " + ", ".join(
            v.name for v in qmodel.trainable_variables), file=sys.stderr)

    loss_fn = tf_keras.losses.CategoricalCrossentropy(from_logits=True)
    optimizer = tf_keras.optimizers.Adam(learning_rate=a.lr)
    if a.verbose:
        print(f"Adam jit_compile={optimizer.jit_compile}", file=sys.stderr)
    def step(xi, yi):
        with tf.GradientTape() as tape:
            logits = qmodel(xi, training=True)
            loss = loss_fn(yi, logits)
        grads = tape.gradient(loss, qmodel.trainable_variables)
        optimizer.apply_gradients(zip(grads, qmodel.trainable_variables))
        return loss

    def infer(xi):
        return qmodel(xi, training=False)

    if a.mode == "function":
        step, infer = tf.function(step), tf.function(infer)
    elif a.mode == "train_on_batch":
        qmodel.compile(optimizer=optimizer, loss=loss_fn, jit_compile=False)

        def step(xi, yi):
            return qmodel.train_on_batch(xi, yi)

        def infer(xi):
            return qmodel.predict_on_batch(xi)

    losses = []
    for i in range(a.steps):
        xi, yi = tf.constant(x[i]), tf.constant(y[i])
        losses.append(np.asarray(step(xi, yi)))

    out = {"loss": np.array(losses, dtype=np.float32)}
    for k, v in mapping.items():
        out[k] = v.numpy()
    if a.eval:
        out["logits_infer"] = np.asarray(infer(tf.constant(x[0])))
    np.savez(a.out, **out)


if __name__ == "__main__":
    main()
