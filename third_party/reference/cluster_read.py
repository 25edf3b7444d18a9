"""Reads a resource variable from a running TensorFlow cluster (test oracle).

usage: cluster_read.py TARGET DEVICE NAME SHAPE

Connects a TF1-style session to TARGET (e.g. grpc://localhost:2222, a
server that qat worker started), reads the float32 resource variable whose
shared name is NAME and whose shape is SHAPE (comma-separated, e.g. 3) on
DEVICE (e.g. /job:ps/task:0), and adds the read value times 10 on
/job:worker/task:1 of the same cluster. Prints JSON: {"value": [...],
"times_ten": [...], "devices": [the cluster's devices, as the session
lists them]}.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

tf1 = tf.compat.v1


def main():
    target, device, name, shape = sys.argv[1:5]
    dims = [int(d) for d in shape.split(",") if d]
    g = tf.Graph()
    with g.as_default():
        with tf.device(device):
            handle = tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=dims, shared_name=name)
            value = tf.raw_ops.ReadVariableOp(resource=handle, dtype=tf.float32)
        with tf.device("/job:worker/task:1"):
            times_ten = value * 10.0
    with tf1.Session(target, graph=g) as sess:
        v, t = sess.run([value, times_ten])
        devices = sorted(d.name for d in sess.list_devices())
    print(json.dumps({"value": v.tolist(), "times_ten": t.tolist(), "devices": devices}))


if __name__ == "__main__":
    main()
