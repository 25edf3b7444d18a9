"""Keras's parameter counts for a saved model (test oracle).

usage: keras_count_params.py MODEL

Loads MODEL (.keras or .h5) with Keras 3 and prints JSON:
{"total": model.count_params(), "layers": {name: layer.count_params()}}.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402


def main(path):
    model = keras.models.load_model(path, compile=False)
    layers = {layer.name: int(layer.count_params()) for layer in model.layers}
    json.dump({"total": int(model.count_params()), "layers": layers}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
