"""Describes a saved Keras model for `qat import`.

Run by `qat import` with the project's Python (TensorFlow 2.21, Keras 3 and
tf_keras); the Go library itself never runs Python.

usage: keras_export.py MODEL OUT.json OUT.npz

MODEL is a .keras file, an .h5 file or a Keras SavedModel folder. It is
loaded with Keras 3 (tf.keras in TF 2.21) and, if Keras 3 cannot read it,
with tf_keras (the Keras 2 that TF_USE_LEGACY_KERAS=1 selects): .keras and
.h5 files are tried with Keras 3 first, SavedModel folders with tf_keras
only (Keras 3 does not load SavedModels as models).

OUT.json describes the model: how it was loaded, its input shape, and per
layer its class, its Keras config, the layers it takes its inputs from (in
argument order) and its weights (Keras's variable name and shape). OUT.npz
holds every weight as float32 under "<layer index>/<weight index>". The
mapping to qat's layer types and variable names is done in Go (import.go),
so the rules live in one place. A model that cannot be loaded exits 2 with
one line "error: ..." on stderr saying what each Keras said.
"""
import json
import os
import sys
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def fail(msg):
    print("error: " + msg, file=sys.stderr)
    sys.exit(2)


def first_line(e):
    text = str(e).strip().splitlines()
    return (type(e).__name__ + ": " + (text[0] if text else "")).strip()


def load_keras3(path):
    import keras
    return keras.saving.load_model(path, compile=False), "keras " + keras.__version__


def load_tf_keras(path):
    try:
        import tf_keras
    except ImportError as e:
        raise RuntimeError("tf_keras is not installed (pip install tf_keras)") from e
    return tf_keras.models.load_model(path, compile=False), "tf_keras " + tf_keras.__version__


def load(path):
    """Loads MODEL with the Keras that can read it; the model and which Keras."""
    if not os.path.exists(path):
        fail(f"{path}: no such file or folder")
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            fail(f"{path} is a folder without saved_model.pb: not a SavedModel")
        if not os.path.exists(os.path.join(path, "keras_metadata.pb")):
            fail(f"{path} is a SavedModel without Keras metadata (keras_metadata.pb): "
                 "it was written by tf.saved_model.save or Keras 3's model.export, which keep "
                 "no layers; save the model with model.save('model.keras') instead")
        loaders = [("tf_keras", load_tf_keras)]
    else:
        lower = path.lower()
        if lower.endswith(".keras"):
            if not zipfile.is_zipfile(path):
                fail(f"{path} is not a .keras file (not a zip archive)")
        elif lower.endswith((".h5", ".hdf5")):
            with open(path, "rb") as f:
                if f.read(8) != b"\x89HDF\r\n\x1a\n":
                    fail(f"{path} is not an HDF5 file")
        else:
            fail(f"{path}: want a .keras file, an .h5 file or a SavedModel folder")
        loaders = [("Keras 3", load_keras3), ("tf_keras", load_tf_keras)]
    said = []
    for name, loader in loaders:
        try:
            return loader(path)
        except Exception as e:  # each Keras raises its own types
            said.append(f"{name}: {first_line(e)}")
    fail(f"cannot load {path} as a Keras model (" + "; ".join(said) + ")")


def plain(v):
    """A JSON-able copy of a Keras config value."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, np.ndarray):  # tf_keras keeps some floats as 0-d arrays
        return plain(v.tolist())
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return str(v)


def histories(node):
    """The (layer name) of every tensor a serialized inbound node reads, in
    order: Keras 3 writes {"keras_history": [name, node, tensor]}, tf_keras
    [name, node, tensor, kwargs]."""
    out = []
    if isinstance(node, dict):
        if "keras_history" in node:
            return [node["keras_history"][0]]
        for v in node.values():
            out += histories(v)
    elif isinstance(node, (list, tuple)):
        if (len(node) == 4 and isinstance(node[0], str) and isinstance(node[1], int)
                and isinstance(node[2], int) and isinstance(node[3], dict)):
            return [node[0]]
        for v in node:
            out += histories(v)
    return out


def endpoints(v):
    """Layer names of a model config's input_layers / output_layers."""
    if isinstance(v, (list, tuple)) and len(v) == 3 and isinstance(v[0], str):
        return [v[0]]
    return [x[0] for x in v]


def describe(model, keras_name):
    kind = type(model).__name__
    d = {"keras": keras_name, "class": kind, "name": model.name, "layers": []}
    if kind not in ("Sequential", "Functional"):
        if not hasattr(model, "get_config") or "layers" not in (model.get_config() or {}):
            fail(f"model {model.name!r} is a subclassed {kind}; only Sequential and Functional models can be imported")
    try:
        ins = model.inputs
    except AttributeError:
        ins = None
    if not ins:
        fail(f"model {model.name!r} has no input shape: build it on an Input "
             "(keras.Input(shape=...)) before saving")
    if len(ins) != 1 or len(model.outputs) != 1:
        fail(f"model {model.name!r} has {len(ins)} inputs and {len(model.outputs)} outputs; want one of each")
    d["input_shape"] = [None if s is None else int(s) for s in list(ins[0].shape)[1:]]
    d["input_dtype"] = str(ins[0].dtype.name if hasattr(ins[0].dtype, "name") else ins[0].dtype)
    cfg = model.get_config()
    inbound = {}
    if kind == "Sequential":
        layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
        prev = None
        for l in layers:
            inbound[l.name] = [] if prev is None else [prev]
            prev = l.name
        d["inputs"], d["outputs"] = [], [layers[-1].name] if layers else []
    else:
        layers = list(model.layers)
        for lc in cfg["layers"]:
            nodes = lc.get("inbound_nodes") or []
            if len(nodes) > 1:
                fail(f"layer {lc['name']!r} ({lc['class_name']}) is called {len(nodes)} times "
                     "(a shared layer); qat models use each layer once")
            inbound[lc["name"]] = histories(nodes[0]) if nodes else []
        d["inputs"], d["outputs"] = endpoints(cfg["input_layers"]), endpoints(cfg["output_layers"])
    arrays = {}
    for i, l in enumerate(layers):
        entry = {"name": l.name, "class": type(l).__name__, "config": plain(l.get_config()),
                 "inbound": inbound.get(l.name, []), "weights": []}
        if hasattr(l, "layers") and type(l).__name__ in ("Sequential", "Functional", "Model"):
            entry["nested"] = True
        try:
            entry["output_shape"] = [None if s is None else int(s) for s in list(l.output.shape)[1:]]
        except (AttributeError, ValueError, TypeError):
            pass  # several outputs, or a layer Keras did not build
        for j, v in enumerate(l.weights):
            a = np.asarray(v.numpy())
            w = {"name": v.name.split("/")[-1].split(":")[0], "shape": list(a.shape), "dtype": str(a.dtype)}
            if a.dtype == np.float32:  # others (a dropout's seed state) are not model weights
                w["key"] = f"{i}/{j}"
                arrays[w["key"]] = a
            entry["weights"].append(w)
        d["layers"].append(entry)
    return d, arrays


def main():
    if len(sys.argv) != 4:
        fail("usage: keras_export.py MODEL OUT.json OUT.npz")
    path, out_json, out_npz = sys.argv[1:]
    model, keras_name = load(path)
    d, arrays = describe(model, keras_name)
    np.savez(out_npz, **arrays)
    with open(out_json, "w") as f:
        json.dump(d, f, indent=1)


if __name__ == "__main__":
    main()
