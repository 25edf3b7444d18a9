package main

import (
	"fmt"
	"math"

	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
	"github.com/spf13/cobra"
)

// trainFlags are qat train's flags (newTrain documents them).
type trainFlags struct {
	example                 int
	config, init, data, out string
	steps                   int
	seed                    uint64
	lr                      float64
	fused                   bool
	epochs, threads         int
	checkpointEvery         int
	resume                  bool
	logEvery                int
	numerics                string
	scale                   string
	validationSplit         float64
	validationData          string
	cluster                 clusterFlags
}

func newTrain() *cobra.Command {
	f := &trainFlags{}
	c := &cobra.Command{
		Use:   "train",
		Short: "Train one of the article's examples, or a model described by a config file",
		Long: `Train a model with fake-quantized weights, biases and activations, with
Adam, on --threads intra-op threads (default 1) and one inter-op thread.
--numerics graph (the default for configs) gives the bits of the same model
trained by Keras fit or a tf.function step, and is the faster mode;
--numerics eager gives the bits of eager TensorFlow, such as the article's
GradientTape loop (the default for --example).
Writes DIR/losses.csv, DIR/history.csv (a row per epoch: loss, accuracy,
validation loss and accuracy with fake quant and float, learning rate),
DIR/initial_weights.npz, DIR/weights.npz (the final float master
weights), DIR/ranges.npz, DIR/ranges.csv (every quantizer's range every
--log-every steps and at the end) and DIR/config.yaml (and
DIR/metrics.json for MNIST), TensorBoard summaries to DIR/logs/train
(every --log-every steps) and DIR/logs/validation (every epoch; view
them with tensorboard --logdir DIR/logs), then DIR/report.html (see qat
report).

--init and weights.npz key each array by its variable, <layer>/<variable>:
<layer>/kernel and <layer>/bias for dense and conv2d layers
(depthwise_conv2d: <layer>/depthwise_kernel and <layer>/bias; batch_norm:
<layer>/gamma, beta, moving_mean, moving_variance; the article's
quantized_dense layers of --example 1, 2, 3: <layer>/weight_fp and
<layer>/bias_fp). An earlier run's weights.npz is a valid --init for the
same model, and so is the weights.npz qat import writes from a Keras model.

Checkpoints of the whole training state (variables, Adam's slots, the step,
the data order, the losses so far) go to DIR/checkpoints: one at the end of
the run (also when it is interrupted: Ctrl-C exits 130, SIGTERM 143) and,
with --checkpoint-every N, one every N steps; the newest 3 are kept. The
files above are written with each checkpoint and describe its state.
--resume continues from the newest checkpoint that reads back cleanly up to
the run's total steps, and ends with the same bits as a run that was never
stopped. Python reads them with
tf.train.load_checkpoint("DIR/checkpoints/ckpt-<step>").

Everything is checked before anything is written: a command that fails
(bad flags, config, data, a checkpoint of another model or data) leaves
DIR as it was. A step whose loss is NaN or infinite stops the run; DIR then
holds the state after the step before (checkpoint, weights) and losses.csv
up to and including the NaN step, unless no step of this command succeeded.

On a TensorFlow cluster (TF_CONFIG with "task": {"type": "chief"}, or
--cluster, --job chief and --task 0), qat train is the chief of
synchronous data-parallel training: it starts its task's server, puts the
variables on the ps tasks (or on itself when there are none) and runs one
replica on each worker task (started with qat worker) on its share of
batch_size, which must divide evenly. Quantizer ranges are updated from
the whole global batch, as in one process. If a task dies, the run stops
with an error naming it and keeps its newest checkpoint: start the task
again and continue with --resume.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return train(c, f) },
	}
	fl := c.Flags()
	fl.IntVar(&f.example, "example", 3, "train the article's example `N` (1, 2 or 3)")
	fl.StringVar(&f.config, "config", "", "train the model in this YAML `file` (overrides --example)")
	fl.StringVar(&f.init, "init", "", "initial weights from this .npz `file`: one array per variable, <layer>/<variable> (e.g. c1/kernel, bn1/gamma; an earlier run's weights.npz or qat import's; see above)")
	fl.StringVar(&f.data, "data", "", "training data from this .npz `file` with x [N, inputs] and y one-hot [N, classes] (or class ids [N] with loss sparse_categorical_crossentropy; default: 100 synthetic examples)")
	fl.StringVar(&f.scale, "scale", "", "multiply the data's x by `S` (a number or a fraction such as 1/255), as x.astype(float32) * S; needed for uint8 x (replaces the config's data.scale)")
	fl.IntVar(&f.steps, "steps", 0, "train for `N` steps (default 100, or the config's steps or epochs)")
	fl.Uint64Var(&f.seed, "seed", 0, "seed for initial weights and synthetic data (default 1, or the config's)")
	fl.Float64Var(&f.lr, "lr", 0, "Adam learning rate (default 0.01 for examples, the config's otherwise)")
	fl.BoolVar(&f.fused, "fused", false, "use TensorFlow's fused ResourceApplyAdam kernel")
	fl.IntVar(&f.epochs, "epochs", 0, "train for `N` passes over the data (needs batch_size; replaces the config's steps)")
	fl.IntVar(&f.threads, "threads", 1, "TensorFlow intra-op threads (1 gives the same bits on every machine)")
	fl.StringVar(&f.out, "out", "out/run", "write results to `DIR` (created if missing)")
	fl.IntVar(&f.checkpointEvery, "checkpoint-every", 0, "also write a checkpoint to DIR/checkpoints every `N` steps (0: only at the end)")
	fl.BoolVar(&f.resume, "resume", false, "continue from the newest good checkpoint in DIR/checkpoints (from step 1 if there is none)")
	fl.StringVar(&f.numerics, "numerics", "", "whose bits to reproduce: `graph` (tf.function, Keras fit; faster) or eager (eager TensorFlow); default: the config's numerics, graph for configs and eager for --example")
	fl.Float64Var(&f.validationSplit, "validation-split", 0, "hold out the last `fraction` (in (0, 1)) of the training data for validation, as Keras's validation_split (replaces the config's validation)")
	fl.StringVar(&f.validationData, "validation-data", "", "validate on this .npz `file` (x, one-hot y) at the end of every epoch (replaces the config's validation)")
	f.cluster.add(c)
	fl.IntVar(&f.logEvery, "log-every", 10, "every `N` steps: write TensorBoard summaries to DIR/logs/train, sample the quantizer ranges into DIR/ranges.csv and, when stderr is not a terminal, print the loss, steps/s and ETA")
	return c
}

// runConfig is the config file or example, with the flags applied.
func runConfig(c *cobra.Command, f *trainFlags) (*models.Config, string, error) {
	var cfg *models.Config
	var err error
	what := "config " + f.config
	if f.config != "" {
		cfg, err = models.LoadConfig(f.config)
	} else {
		what = fmt.Sprintf("example %d", f.example)
		if f.example < 1 || f.example > 3 {
			return nil, "", fmt.Errorf("--example %d: the article has examples 1, 2 and 3", f.example)
		}
		cfg, err = models.ExampleConfig(f.example)
	}
	if err != nil {
		return nil, "", err
	}
	fl := c.Flags()
	if fl.Changed("steps") && fl.Changed("epochs") {
		return nil, "", fmt.Errorf("--steps %d and --epochs %d: give one", f.steps, f.epochs)
	}
	if fl.Changed("steps") {
		if f.steps <= 0 {
			return nil, "", fmt.Errorf("--steps %d must be > 0", f.steps)
		}
		cfg.Steps, cfg.Epochs = f.steps, 0
	}
	if fl.Changed("lr") {
		if !(f.lr > 0) || math.IsInf(f.lr, 0) {
			return nil, "", fmt.Errorf("--lr %g must be finite and > 0", f.lr)
		}
		cfg.Optimizer.LearningRate = f.lr
	}
	if fl.Changed("epochs") {
		if f.epochs <= 0 {
			return nil, "", fmt.Errorf("--epochs %d must be > 0", f.epochs)
		}
		if cfg.BatchSize == 0 {
			return nil, "", fmt.Errorf("--epochs %d needs a config with batch_size (%s has none; give --steps instead)", f.epochs, what)
		}
		cfg.Epochs = f.epochs
	}
	if f.threads <= 0 {
		return nil, "", fmt.Errorf("--threads %d must be > 0", f.threads)
	}
	if f.checkpointEvery < 0 {
		return nil, "", fmt.Errorf("--checkpoint-every %d must be >= 0", f.checkpointEvery)
	}
	if f.logEvery <= 0 {
		return nil, "", fmt.Errorf("--log-every %d must be > 0", f.logEvery)
	}
	if fl.Changed("seed") {
		cfg.Seed = f.seed
	}
	if fl.Changed("fused") {
		cfg.Optimizer.Fused = f.fused
	}
	if fl.Changed("init") {
		cfg.Init = f.init
	}
	if fl.Changed("numerics") {
		n, err := tfgraph.ParseNumerics(f.numerics)
		if err != nil || f.numerics == "" {
			return nil, "", fmt.Errorf("--numerics %q: want graph (tf.function and Keras fit) or eager (eager TensorFlow)", f.numerics)
		}
		cfg.Numerics = n
	}
	if fl.Changed("data") {
		cfg.Data = models.DataConfig{NPZ: f.data, Scale: cfg.Data.Scale}
	}
	if fl.Changed("scale") {
		if cfg.Data.Scale, err = models.ParseScale(f.scale); err != nil {
			return nil, "", fmt.Errorf("--scale: %w", err)
		}
	}
	if fl.Changed("validation-split") && fl.Changed("validation-data") {
		return nil, "", fmt.Errorf("--validation-split %g and --validation-data %s: give one", f.validationSplit, f.validationData)
	}
	if fl.Changed("validation-split") {
		if !(f.validationSplit > 0 && f.validationSplit < 1) {
			return nil, "", fmt.Errorf("--validation-split %g must be in (0, 1)", f.validationSplit)
		}
		cfg.ValidationSplit, cfg.Validation = f.validationSplit, nil
	}
	if fl.Changed("validation-data") {
		cfg.ValidationSplit, cfg.Validation = 0, &models.ValidationConfig{NPZ: f.validationData}
	}
	return cfg, what, cfg.Validate()
}
