"""Writes integer .npz data with numpy and numpy's scaled x, for qat-go's
data.scale test.

usage: scale_reference.py DIR

Writes DIR/images.npz: x uint8 [256, 3] (every byte value, shuffled),
y int64 class ids [256] in [0, 10); DIR/ints.npz: one array per integer
dtype (int8, int16, int32, int64, uint16, uint32, uint64) with its extreme
values; DIR/expected.npz: x.astype(np.float32) * s for s = 1/255
("x_255") and s = 0.1 ("x_0.1"), float32, as numpy computes them.
"""
import os
import sys

import numpy as np


def main():
    d = sys.argv[1]
    r = np.random.default_rng(5)
    x = r.permutation(np.tile(np.arange(256, dtype=np.uint8), 3)).reshape(256, 3)
    y = r.integers(0, 10, size=256).astype(np.int64)
    np.savez(os.path.join(d, "images.npz"), x=x, y=y)
    ints = {}
    for t in [np.int8, np.int16, np.int32, np.int64, np.uint16, np.uint32, np.uint64]:
        info = np.iinfo(t)
        ints[np.dtype(t).name] = np.array([info.min, -1 if info.min < 0 else 1, 0, 7, info.max], dtype=t)
    np.savez(os.path.join(d, "ints.npz"), **ints)
    np.savez(os.path.join(d, "expected.npz"),
             **{"x_255": x.astype(np.float32) * (1 / 255), "x_0.1": x.astype(np.float32) * 0.1,
                "y": y.astype(np.float32)},
             **{k: v.astype(np.float32) for k, v in ints.items()})


if __name__ == "__main__":
    main()
