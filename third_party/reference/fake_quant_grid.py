"""TensorFlow's FakeQuant grid for quantizer ranges (test oracle).

usage: fake_quant_grid.py IN.json

IN.json is a list of {"min": [...], "max": [...], "bits": B, "narrow": bool}
(one value per channel). For each, prints (as a JSON list) the nudged
range, scale and zero point the FakeQuant kernels use, computed in float32
as they compute them: scale = (max - min) / (quant_max - quant_min), the
zero point quant_min - min / scale clamped to [quant_min, quant_max] and
rounded half away from zero, nudged_min = (quant_min - zero) * scale,
nudged_max = (quant_max - zero) * scale. Then checks them against TF's own
kernel (tf.quantization.fake_quant_with_min_max_vars, or the per-channel
op for several channels): a very negative input must come out as
nudged_min exactly and 0.0 as exactly 0; a very large input and each grid
point nudged_min + k * scale (k = 0, 1, zero - quant_min, the top) on
index k of the grid and within one float32 ulp of that value (the kernel
computes its outputs in its own order); any mismatch exits 1.
"""
import json
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

f32 = np.float32


def grid(lo, hi, bits, narrow):
    qmin, qmax = f32(1 if narrow else 0), f32(2**bits - 1)
    scale = f32(f32(hi - lo) / f32(qmax - qmin))
    zfm = f32(qmin - f32(lo / scale))
    if zfm < qmin:
        zero = qmin
    elif zfm > qmax:
        zero = qmax
    else:
        zero = f32(math.floor(float(zfm) + 0.5))  # zfm >= 0: half away from zero
    return f32((qmin - zero) * scale), f32((qmax - zero) * scale), scale, int(zero), int(qmin), int(qmax)


def kernel(x, lo, hi, bits, narrow):
    """TF's fake quant of x [P, C] with per-channel (C > 1) or scalar ranges."""
    if len(lo) > 1:
        return tf.quantization.fake_quant_with_min_max_vars_per_channel(
            x, lo, hi, num_bits=bits, narrow_range=narrow).numpy()
    return tf.quantization.fake_quant_with_min_max_vars(
        x, lo[0], hi[0], num_bits=bits, narrow_range=narrow).numpy()


def main(path):
    out = []
    for case in json.load(open(path)):
        lo, hi = np.array(case["min"], f32), np.array(case["max"], f32)
        bits, narrow = case["bits"], case["narrow"]
        grids = [grid(a, b, bits, narrow) for a, b in zip(lo, hi)]
        nmin = np.array([g[0] for g in grids], f32)
        scale = np.array([g[2] for g in grids], f32)
        zero = np.array([g[3] - g[4] for g in grids], f32)
        levels = f32(grids[0][5] - grids[0][4])
        ks = [f32(0), f32(1), zero, levels]
        x = np.stack([np.full_like(lo, -3.0e38), np.zeros_like(lo), np.full_like(lo, 3.0e38)]
                     + [f32(k * scale) + nmin for k in ks])
        y = kernel(x, lo, hi, bits, narrow)
        problems = []
        if np.any(y[0] != nmin):
            problems.append("very negative input gives %s, not nudged_min %s" % (y[0], nmin))
        if np.any(y[1] != 0):
            problems.append("0 gives %s" % y[1])
        for k, row in zip([levels] + ks, y[2:]):
            index = np.round((row.astype(np.float64) - nmin) / scale)
            if np.any(index != k):
                problems.append("grid point %s comes out at index %s" % (k, index))
            near = f32(k * scale) + nmin
            if np.any(np.abs(row - near) > np.spacing(np.abs(near))):
                problems.append("grid point %s is %s, more than an ulp from %s" % (k, row, near))
        if problems:
            sys.exit("TF's kernel disagrees for %s: %s" % (case, "; ".join(problems)))
        out.append({
            "nudged_min": [float(g[0]) for g in grids], "nudged_max": [float(g[1]) for g in grids],
            "scale": [float(g[2]) for g in grids], "zero_point": [g[3] for g in grids],
            "quant_min": grids[0][4], "quant_max": grids[0][5],
        })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
