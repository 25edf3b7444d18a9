"""Writes a SavedModel whose output has fewer rows than its input batch.

usage: short_output_model.py DIR

DIR gets a SavedModel with the signature serving_default: x float32
[batch, 10] -> logits float32 [1, 2] (the column sums of x's first two
columns), so every batch of more than one example yields one row. qat eval
must say so instead of indexing past the outputs.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402


class Short(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 10], tf.float32, name="x")])
    def serve(self, x):
        return {"logits": tf.reduce_sum(x[:, :2], axis=0, keepdims=True)}


def main():
    m = Short()
    tf.saved_model.save(m, sys.argv[1], signatures={"serving_default": m.serve})


if __name__ == "__main__":
    main()
