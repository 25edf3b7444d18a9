"""Writes small SavedModels whose serving_default signatures differ from
qat export's (input "x", output "logits"), for the Go loader's tests.

usage: savedmodel_signatures.py OUT_DIR

OUT_DIR/one_input:   input "images" float32 [None, 4] -> output "scores" [None, 2]
OUT_DIR/two_inputs:  inputs "images", "mask" -> "logits"
OUT_DIR/two_outputs: input "images" -> outputs "a", "b"
OUT_DIR/int_input:   input "ids" int32 [None, 4] -> "logits"
The weights are fixed: scores = images @ W with W[i, j] = (i + 1) * (-1)^j.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

W = [[(i + 1) * (1 if j == 0 else -1) for j in range(2)] for i in range(4)]


class M(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.constant(W, tf.float32), name="w")


def save(path, fn, module):
    tf.saved_model.save(module, path, signatures={"serving_default": fn})


def main(out):
    m = M()
    spec = tf.TensorSpec([None, 4], tf.float32, name="images")

    @tf.function(input_signature=[spec])
    def one(images):
        return {"scores": tf.matmul(images, m.w)}

    save(os.path.join(out, "one_input"), one, m)

    @tf.function(input_signature=[spec, tf.TensorSpec([None, 4], tf.float32, name="mask")])
    def two_in(images, mask):
        return {"logits": tf.matmul(images * mask, m.w)}

    save(os.path.join(out, "two_inputs"), two_in, m)

    @tf.function(input_signature=[spec])
    def two_out(images):
        y = tf.matmul(images, m.w)
        return {"a": y, "b": -y}

    save(os.path.join(out, "two_outputs"), two_out, m)

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.int32, name="ids")])
    def ints(ids):
        return {"logits": tf.matmul(tf.cast(ids, tf.float32), m.w)}

    save(os.path.join(out, "int_input"), ints, m)


if __name__ == "__main__":
    main(sys.argv[1])
