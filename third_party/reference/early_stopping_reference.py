"""Keras 3 EarlyStopping fed given metric sequences, for qat-go's tests.

usage: early_stopping_reference.py CASES.json
CASES.json: a list of {"monitor", "mode", "min_delta", "patience",
"baseline" (null for none), "start_from_epoch", "values"}: the monitored
metric's value at the end of each epoch. The callback is attached to a
small model compiled with metrics=["accuracy"] (so that mode "auto" can
look the metric up) and called as fit calls it: on_train_begin, then
on_epoch_end(epoch, logs) until the model's stop_training is set.
Prints a JSON list with, per case, {"stopped": the 1-based epoch at whose
end training stopped (0: never), "best": the 1-based best epoch}.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import keras  # noqa: E402


def main():
    cases = json.load(open(sys.argv[1]))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(np.zeros((2, 2), np.float32), np.eye(2, dtype=np.float32), verbose=0)
    out = []
    for c in cases:
        cb = keras.callbacks.EarlyStopping(monitor=c["monitor"], mode=c["mode"], min_delta=float(c["min_delta"]),
                                           patience=c["patience"], baseline=c["baseline"],
                                           start_from_epoch=c["start_from_epoch"])
        cb.set_model(model)
        model.stop_training = False
        cb.on_train_begin()
        stopped = 0
        for epoch, v in enumerate(c["values"]):
            cb.on_epoch_end(epoch, {c["monitor"]: float(np.float32(v))})
            if model.stop_training:
                stopped = epoch + 1
                break
        out.append({"stopped": stopped, "best": cb.best_epoch + 1})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
