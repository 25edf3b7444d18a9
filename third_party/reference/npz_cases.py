"""Writes .npz files the way numpy does, for models' ReadNPZ test.

usage: npz_cases.py DIR

Writes DIR/<case>.npz for each case and prints a JSON object mapping each
case to its arrays as numpy.load reads them back: {key: {"shape": [...],
"data": [float32 values, row-major]}}.
"""
import io
import json
import sys
import zipfile

import numpy as np
from numpy.lib import format as npformat


def arrays_of(path):
    with np.load(path) as f:
        return {k: {"shape": list(f[k].shape),
                    "data": [float(v) for v in f[k].astype(np.float32).ravel()]}
                for k in f.files}


def versioned(path, version):
    buf = io.BytesIO()
    npformat.write_array(buf, np.arange(6, dtype=np.float32).reshape(3, 2) / 4, version=version)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", buf.getvalue())


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(7)
    cases = {
        "savez": lambda p: np.savez(
            p, x=rng.normal(size=(4, 3)).astype(np.float32),
            y=np.eye(4, dtype=np.float32)),
        "compressed": lambda p: np.savez_compressed(
            p, x=rng.normal(size=(50, 7)).astype(np.float32)),
        "float64": lambda p: np.savez(p, w=rng.normal(size=(2, 3, 4))),
        "big_endian": lambda p: np.savez(p, b=np.arange(5, dtype=">f4") - 2.5),
        "scalar_and_empty": lambda p: np.savez(
            p, s=np.float32(3.25), e=np.zeros((0, 5), np.float32)),
        "layer_keys": lambda p: np.savez(
            p, **{"dense/kernel": np.ones((2, 2), np.float32), "dense/bias": np.zeros(2, np.float32)}),
        "version2": lambda p: versioned(p, (2, 0)),
        "version3": lambda p: versioned(p, (3, 0)),
    }
    result = {}
    for name, write in cases.items():
        path = f"{out}/{name}.npz"
        write(path)
        result[name] = arrays_of(path)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
