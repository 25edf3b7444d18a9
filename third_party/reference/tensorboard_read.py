"""Reads TensorBoard event files with TensorBoard's own reader (test oracle).

usage: tensorboard_read.py LOGDIR

Loads every event file in LOGDIR (one run, e.g. DIR/logs/train) with
tensorboard.backend.event_processing.event_accumulator.EventAccumulator,
keeping every event (no sampling), and prints JSON:
{"files": [event file names], "file_version": 2.0 (from "brain.Event:2"),
 "scalars": {tag: [[step, value], ...]},
 "histograms": {tag: [{"step", "min", "max", "num", "sum", "sum_squares",
                       "bucket_limit", "bucket"}, ...]}}
Scalar values are the float32 values in the files, printed so that they
read back exactly.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tensorboard.backend.event_processing import event_accumulator as ea  # noqa: E402


def main(logdir):
    acc = ea.EventAccumulator(logdir, size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    out = {
        "files": sorted(f for f in os.listdir(logdir) if "tfevents" in f),
        "file_version": acc.file_version,
        "scalars": {},
        "histograms": {},
    }
    for tag in tags[ea.SCALARS]:
        out["scalars"][tag] = [[e.step, e.value] for e in acc.Scalars(tag)]
    for tag in tags[ea.HISTOGRAMS]:
        out["histograms"][tag] = [{
            "step": e.step,
            "min": e.histogram_value.min,
            "max": e.histogram_value.max,
            "num": e.histogram_value.num,
            "sum": e.histogram_value.sum,
            "sum_squares": e.histogram_value.sum_squares,
            "bucket_limit": list(e.histogram_value.bucket_limit),
            "bucket": list(e.histogram_value.bucket),
        } for e in acc.Histograms(tag)]
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
