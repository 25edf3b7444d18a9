"""Keras's parameter counts for a saved model (test oracle).

usage: keras_count_params.py MODEL [EXPORT_DIR]

Loads MODEL (.keras or .h5) with Keras 3 and prints JSON:
{"total": model.count_params(), "layers": {name: layer.count_params()}}.
With EXPORT_DIR, also writes the model there as a SavedModel with Keras 3's
model.export (its ops in functions, its variables at the top level).
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402


def main(path, export=None):
    model = keras.models.load_model(path, compile=False)
    if export:
        model.export(export, verbose=False)
    layers = {layer.name: int(layer.count_params()) for layer in model.layers}
    json.dump({"total": int(model.count_params()), "layers": layers}, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:3])
