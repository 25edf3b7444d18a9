"""Reads qat-go checkpoints with Python TensorFlow (test oracle).

usage: checkpoint_check.py CHECKPOINTS_DIR PATH...

For each PATH (a checkpoint folder or its prefix <folder>/ckpt) opens
tf.train.load_checkpoint(PATH) and lists every entry with its dtype, shape
and the SHA-256 of its values' little-endian bytes (strings: the values).
Prints JSON: {"latest": tf.train.latest_checkpoint(CHECKPOINTS_DIR),
"checkpoints": {PATH: {name: {"dtype", "shape", "sha256" | "strings"}}}}.
"""
import hashlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def entries(path):
    reader = tf.train.load_checkpoint(path)
    dtypes = reader.get_variable_to_dtype_map()
    out = {}
    for name, shape in sorted(reader.get_variable_to_shape_map().items()):
        value = reader.get_tensor(name)
        entry = {"dtype": dtypes[name].name, "shape": list(shape)}
        if dtypes[name] == tf.string:
            entry["strings"] = [v.decode() for v in np.ravel(value)]
        else:
            le = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<"))
            entry["sha256"] = hashlib.sha256(le.tobytes()).hexdigest()
        out[name] = entry
    return out


def main(ckpt_dir, *paths):
    print(json.dumps({
        "latest": tf.train.latest_checkpoint(ckpt_dir),
        "checkpoints": {p: entries(p) for p in paths},
    }))


if __name__ == "__main__":
    main(*sys.argv[1:])
