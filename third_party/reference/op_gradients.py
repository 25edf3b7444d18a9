"""Gradients of single TensorFlow ops under tf.GradientTape, for qat-go's
gradient-registry tests.

usage: op_gradients.py CASES.json OUT.json
Each case: {"name", "op", "inputs": [{"arg", "dtype", "shape", "values",
"diff"} | {"arg", "list": [tensor...], "diff"}], "attrs": {...},
"upstream": [tensor or null per op output]}; "op" names a raw op or one
of COMPOSITES. Output: {"grads": {name: [grad values or
null, one per differentiable input (each list item counts as one)]},
"errors": {name: message of a case whose kernels this TensorFlow lacks}}.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)


def tensor(spec):
    return tf.constant(np.array(spec["values"], dtype=spec["dtype"]).reshape(spec["shape"] or []))


def moments_batch_normalization(x, scale, offset, epsilon):
    """Training-mode batch norm from its parts, as Keras's non-fused path."""
    mean, variance = tf.nn.moments(x, list(range(len(x.shape) - 1)))
    return tf.nn.batch_normalization(x, mean, variance, offset, scale, epsilon)


def fan_out_three(x, k):
    """x feeds three ops whose gradients meet at x."""
    return tf.add_n([x * k, tf.square(x), tf.exp(x)])


# Composite cases: several ops, built by a function instead of one raw op.
COMPOSITES = {"moments_batch_normalization": moments_batch_normalization,
              "fan_out_three": fan_out_three}


def run(case):
    args, sources = {}, []
    for inp in case["inputs"]:
        if "list" in inp:
            ts = [tensor(s) for s in inp["list"]]
            args[inp["arg"]] = ts
            if inp.get("diff"):
                sources.extend(ts)
        else:
            t = tensor(inp)
            args[inp["arg"]] = t
            if inp.get("diff"):
                sources.append(t)
    with tf.GradientTape() as tape:
        for s in sources:
            tape.watch(s)
        op = COMPOSITES.get(case["op"]) or getattr(tf.raw_ops, case["op"])
        out = op(**args, **(case.get("attrs") or {}))
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    targets, ups = [], []
    for o, up in zip(outs, case["upstream"]):
        if up is not None:
            targets.append(o)
            ups.append(tensor(up))
    grads = tape.gradient(targets, sources, output_gradients=ups)
    return [None if g is None else tf.convert_to_tensor(g).numpy().astype(np.float64).ravel().tolist() for g in grads]


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    grads, errors = {}, {}
    for c in cases:
        try:
            grads[c["name"]] = run(c)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as e:
            # A kernel this CPU's TensorFlow lacks (Conv2DBackpropInput with
            # dilations where oneDNN does not take it): the test expects Go,
            # running the same kernels, to fail the same way.
            errors[c["name"]] = e.message
    with open(sys.argv[2], "w") as f:
        json.dump({"grads": grads, "errors": errors}, f)


if __name__ == "__main__":
    main()
