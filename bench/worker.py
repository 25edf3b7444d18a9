"""Python contenders of `make bench` (bench/main.go runs them).

One long-lived process per contender, speaking internal/bench's protocol
over stdin/stdout: after set-up and the first step it prints "ready
[note]", then answers "run N" with "ms_per_step X" (wall time of N more
steps / N) and exits on "quit". Nothing else goes to stdout.

usage: worker.py example3 {function,jit,eager}
       worker.py fit {qat,float} {tf_keras,keras3} THREADS CONFIG_LR
       worker.py predict SAVED_MODEL BATCH THREADS
       worker.py version

example3: the article's Example 3 model and train_step
  (third_party/reference/article_examples.py) on 100 N(0,1) examples with
  one-hot labels, Adam(0.01), one thread: train_step under tf.function,
  under tf.function(jit_compile=True), or called eagerly as the article
  does. Every step's loss is fetched (.numpy()), as the Go trainer does.
fit: the MNIST CNN of configs/mnist_cnn_*.yaml, batch 64, Adam(CONFIG_LR),
  categorical cross-entropy on logits; qat: tfmot quantize_model (tf_keras
  only). Data: MNIST (data/mnist/data) through tf.data: shuffle over the
  whole set each epoch, repeat, batch 64, prefetch. One model.fit call
  runs for the whole life of the worker; a callback answers the requests
  between batches, so a block's time is fit's steady-state time per step
  (data, step and callbacks), without fit's start-up.
predict: tf.saved_model.load(SAVED_MODEL).signatures["serving_default"]
  called on the first BATCH MNIST test images (converted to a tensor per
  call, as Go's Predict does), logits fetched.
"""
import gzip
import os
import sys
import time

# The protocol's stdout is a private copy of fd 1; everything else that
# writes to stdout (TensorFlow, Keras, absl) goes to stderr.
PROTO = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def say(line):
    PROTO.write(line + "\n")
    PROTO.flush()


def next_request():
    """Blocks for the next request: returns N for "run N", exits on quit/EOF."""
    line = sys.stdin.readline()
    cmd = line.strip()
    if cmd == "quit" or line == "":
        PROTO.flush()
        os._exit(0)
    parts = cmd.split()
    if len(parts) != 2 or parts[0] != "run" or not parts[1].isdigit() or int(parts[1]) < 1:
        fail(f"request {cmd!r}: want run N or quit")
    return int(parts[1])


def fail(msg):
    print("worker.py: " + msg, file=sys.stderr)
    say("error " + msg.replace("\n", " "))
    os._exit(1)


def serve(step, note=""):
    """Runs step once, says ready, then times blocks of steps."""
    step()
    say(("ready " + note).strip())
    while True:
        n = next_request()
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        say("ms_per_step %.6g" % ((time.perf_counter() - t0) * 1e3 / n))


def set_threads(tf, n):
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(n)


def read_idx(name):
    with gzip.open(os.path.join(ROOT, "data", "mnist", "data", name), "rb") as f:
        raw = f.read()
    import numpy as np
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist(split):
    import numpy as np
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(prefix + "-images-idx3-ubyte.gz").astype(np.float32)[..., None] / 255
    y = np.eye(10, dtype=np.float32)[read_idx(prefix + "-labels-idx1-ubyte.gz")]
    return x, y


def example3(mode):
    sys.path.insert(0, os.path.join(ROOT, "third_party", "reference"))
    import numpy as np
    import article_examples as art  # sets one intra-op and one inter-op thread
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(100, 10)).astype(np.float32))
    y = tf.constant(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 100)])
    model = art.QuantizedModel()
    model(x)
    opt = tf.keras.optimizers.Adam(learning_rate=0.01)
    fn = {"function": tf.function(art.train_step),
          "jit": tf.function(art.train_step, jit_compile=True),
          "eager": art.train_step}[mode]
    serve(lambda: fn(model, x, y, opt).numpy())


def fit(kind, keras_name, threads, lr):
    if keras_name == "tf_keras":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import numpy as np
    import tensorflow as tf
    set_threads(tf, threads)
    if keras_name == "tf_keras":
        import tf_keras as keras
    else:
        import keras
    L = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(32, 3, activation="relu", name="c1"),
        L.MaxPooling2D(2, name="p1"),
        L.Conv2D(64, 3, activation="relu", name="c2"),
        L.MaxPooling2D(2, name="p2"),
        L.Flatten(name="f"),
        L.Dense(128, activation="relu", name="d1"),
        L.Dense(10, name="d"),
    ])
    if kind == "qat":
        if keras_name != "tf_keras":
            fail("tfmot quantize_model needs tf_keras")
        import tensorflow_model_optimization as tfmot
        model = tfmot.quantization.keras.quantize_model(model)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    x, y = mnist("train")
    ds = (tf.data.Dataset.from_tensor_slices((x, y))
          .shuffle(len(x), seed=1, reshuffle_each_iteration=True)
          .repeat().batch(64, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    note = "jit_compile=%s" % bool(getattr(model, "jit_compile", False))

    class Driver(keras.callbacks.Callback):
        """Answers the runner's requests between fit's batches."""

        def __init__(self):
            super().__init__()
            self._supports_tf_logs = True  # tf_keras: no per-batch numpy copy
            self.left, self.t0, self.started = 0, 0.0, False

        def on_train_batch_end(self, batch, logs=None):
            if self.left > 1:
                self.left -= 1
                return
            if self.started:
                if logs and "loss" in logs:
                    float(logs["loss"])  # the block's last step has finished
                say("ms_per_step %.6g" % ((time.perf_counter() - self.t0) * 1e3 / self.n))
            else:
                say(("ready " + note).strip())
                self.started = True
            self.n = self.left = next_request()
            self.t0 = time.perf_counter()

    model.fit(ds, epochs=1, steps_per_epoch=2**31 - 1, verbose=0, callbacks=[Driver()])
    fail("fit ended")


def predict(path, batch, threads):
    import tensorflow as tf
    set_threads(tf, threads)
    x, _ = mnist("test")
    xb = x[:batch]
    sig = tf.saved_model.load(path).signatures["serving_default"]
    serve(lambda: sig(x=tf.constant(xb))["logits"].numpy())


def main(argv):
    try:
        if argv[:1] == ["version"]:
            import tensorflow as tf
            print(tf.__version__, file=PROTO)
            return
        if len(argv) == 2 and argv[0] == "example3" and argv[1] in ("function", "jit", "eager"):
            return example3(argv[1])
        if len(argv) == 5 and argv[0] == "fit" and argv[1] in ("qat", "float") and argv[2] in ("tf_keras", "keras3"):
            return fit(argv[1], argv[2], int(argv[3]), float(argv[4]))
        if len(argv) == 4 and argv[0] == "predict":
            return predict(argv[1], int(argv[2]), int(argv[3]))
    except Exception as e:  # a worker reports why it stops
        import traceback
        traceback.print_exc()
        fail(f"{type(e).__name__}: {e}")
    fail("usage: " + " ".join(argv) + " (see bench/worker.py)")


if __name__ == "__main__":
    main(sys.argv[1:])
