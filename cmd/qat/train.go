package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/report"
	"github.com/qat-go/qat/tensorboard"
	"github.com/qat-go/qat/tfgraph"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

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
up to and including the NaN step, unless no step of this command succeeded.`,
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

func train(c *cobra.Command, f *trainFlags) (err error) {
	ctx, stdout, stderr := c.Context(), c.OutOrStdout(), c.ErrOrStderr()
	// Everything is checked (config, data, initial weights, the trainer,
	// the checkpoint to resume from, the folder's permissions) before
	// anything is written, and the run's files are written together with
	// a checkpoint (runFiles.commit): a failed command leaves the files of
	// an earlier run as they were.
	cfg, what, err := runConfig(c, f)
	if err != nil {
		return err
	}
	m, err := cfg.Model()
	if err != nil {
		return err
	}
	data, test, err := datasets(cfg, m)
	if err != nil {
		return err
	}
	data, val, err := cfg.SplitValidation(data)
	if err != nil {
		return err
	}
	stopper, best, err := fitCallbacks(cfg, f.out, val != nil)
	if err != nil {
		return err
	}
	steps, err := cfg.StepsFor(data.Len())
	if err != nil {
		if f.config != "" {
			return fmt.Errorf("%s: %w", f.config, err)
		}
		return err
	}
	init, err := cfg.InitialWeights()
	if err != nil {
		return err
	}
	lc := loop.DefaultConfig()
	if lc.Optimizer, err = loop.NewOptimizer(cfg.Optimizer); err != nil {
		return err
	}
	lc.Seed, lc.DataSeed, lc.BatchSize, lc.Loss = cfg.Seed, cfg.Seed, cfg.BatchSize, cfg.Loss
	lc.Session = tfgraph.SessionConfig{IntraOpThreads: f.threads, InterOpThreads: tfgraph.InlineOps, Numerics: cfg.Numerics}
	cfg.Steps = steps
	if cfg.CalibrationBatches > 0 {
		if lc.Ranges, err = calibrate(m, data, init, cfg, lc); err != nil {
			return err
		}
	}
	tr, err := loop.NewTrainer(m, data, init, lc)
	if err != nil {
		return err
	}
	defer tr.Close()
	files, err := newRunFiles(f.out, cfg, init, tr)
	if err != nil {
		return err
	}
	// A run without --resume starts a new history: the checkpoints of an
	// earlier run are removed once this run has written its first.
	var notes []string
	if f.resume {
		if notes, err = resume(tr, files.ckpts, cfg.Steps); err != nil {
			return err
		}
		if err := files.resumeSamples(tr.StepsDone()); err != nil {
			return err
		}
		if files.history, err = readHistory(filepath.Join(f.out, "history.csv"), tr.StepsDone()); err != nil {
			notes = append(notes, fmt.Sprintf("qat: warning: %v; history.csv starts again", err))
		}
	} else if files.stale, err = loop.Checkpoints(files.ckpts); err != nil {
		return err
	} else if len(files.stale) > 0 {
		notes = append(notes, fmt.Sprintf("qat: note: %s holds checkpoints of an earlier run (newest: step %d); this run replaces them (pass --resume to continue that run instead)", files.ckpts, files.stale[0].Step))
	}
	made, err := prepareFolders(f.out, files.ckpts)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && files.commits == 0 {
			removeEmpty(made)
		}
	}()
	tb, err := tensorboard.NewRunLogger(tr, tensorboard.RunConfig{Dir: filepath.Join(f.out, "logs"), Every: f.logEvery,
		Steps: cfg.Steps, Optimizer: lc.Optimizer, Numerics: cfg.Numerics})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && files.commits == 0 {
			_ = tb.Discard() // a failed first run leaves no log, as it leaves no other file
		} else if cerr := tb.Close(); err == nil {
			err = cerr
		}
	}()
	for _, n := range notes {
		fmt.Fprintln(stderr, n)
	}
	fmt.Fprintf(stdout, "%s: %s, %d examples, %s, %d steps", what, shape(m), data.X.Shape[0], cfg.Optimizer, cfg.Steps)
	if val != nil {
		fmt.Fprintf(stdout, ", %d validation examples", val.Len())
	}
	fmt.Fprintln(stdout)
	if cfg.Loss != (models.Loss{}) {
		fmt.Fprintf(stdout, "loss: %s\n", cfg.Loss)
	}

	start := tr.StepsDone()
	p := newProgress(stderr, cfg.Steps, f.logEvery, start)
	spe := 1
	if cfg.BatchSize > 0 {
		spe = data.Len() / cfg.BatchSize
	}
	epochs := (cfg.Steps + spe - 1) / spe
	callbacks := []loop.Callback{loop.CallbackFuncs{
		OnStepEnd: func(r loop.StepResult) error {
			p.step(r)
			if err := tb.Step(r); err != nil {
				return err
			}
			if r.Step%f.logEvery == 0 {
				if err := files.sample(r.Step); err != nil {
					return err
				}
			}
			if f.checkpointEvery > 0 && r.Step%f.checkpointEvery == 0 && r.Step < cfg.Steps {
				_, err := files.commit(nil)
				return err
			}
			return nil
		},
		OnEpochEnd: func(e loop.EpochResult) error {
			files.history = append(files.history, e)
			if err := tb.Epoch(e); err != nil {
				return err
			}
			if spe > 1 || val != nil {
				p.line(epochLine(e, epochs, m.Scheme != nil))
			}
			return nil
		},
	}}
	if stopper != nil {
		callbacks = append(callbacks, stopper)
	}
	if best != nil {
		callbacks = append(callbacks, best)
	}
	var runErr error
	if start < cfg.Steps {
		_, runErr = loop.Fit(ctx, tr, loop.FitConfig{Epochs: epochs, StepsPerEpoch: spe, Steps: cfg.Steps, Validation: val}, callbacks...)
	}
	p.done()
	var nan *loop.DivergedError
	switch {
	case errors.As(runErr, &nan):
		return files.stopped(nan, start)
	case runErr != nil && ctx.Err() == nil:
		return runErr
	}
	if err := files.sample(tr.StepsDone()); err != nil {
		return err
	}
	ckpt, err := files.commit(nil)
	if err != nil {
		return err
	}
	losses := tr.Losses()
	if runErr != nil {
		return fmt.Errorf("interrupted after step %d of %d; results so far are in %s (continue with --resume)", len(losses), cfg.Steps, f.out)
	}
	fmt.Fprintf(stdout, "loss %.4f (step 1) -> %.4f (step %d)\n", losses[0], losses[len(losses)-1], len(losses))
	fmt.Fprintf(stdout, "TensorBoard log in %s (tensorboard --logdir %[1]s)\n", filepath.Join(f.out, "logs"))
	if stopper != nil && stopper.StoppedEpoch > 0 {
		fmt.Fprintf(stdout, "early stopping after epoch %d: %s has not improved since epoch %d (%.4f)\n",
			stopper.StoppedEpoch, stopper.Monitor, stopper.BestEpoch, stopper.Best)
	}
	if stopper != nil && stopper.RestoreBestWeights && stopper.BestEpoch > 0 {
		fmt.Fprintf(stdout, "restored the weights of epoch %d, the best by %s\n", stopper.BestEpoch, stopper.Monitor)
	}
	if best != nil && best.Path != "" {
		fmt.Fprintf(stdout, "best checkpoint: epoch %d (%s %.4f) in %s\n", best.Epoch, best.Monitor, best.Best, best.Path)
	}
	written := files.written
	if test != nil {
		if err := evaluate(stdout, f.out, m, tr, *test, lc, files.history); err != nil {
			return err
		}
		written = append(written, "metrics.json")
	}
	if _, err := report.Write(f.out); err != nil {
		return fmt.Errorf("the run's files are written, but not its report: %w", err)
	}
	written = append(written, "report.html")
	fmt.Fprintf(stdout, "wrote %s to %s, checkpoint %s\n", list(written), f.out, ckpt)
	return nil
}

// list joins names as "a, b and c".
func list(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// resume restores the newest good checkpoint in dir and returns the notes
// to print on stderr (the bad checkpoints it skipped); with no checkpoint
// it starts from step 1.
func resume(tr *loop.Trainer, dir string, steps int) ([]string, error) {
	path, skipped, err := tr.RestoreLatest(dir)
	switch {
	case errors.Is(err, loop.ErrNoCheckpoint):
		return []string{fmt.Sprintf("qat: no checkpoint in %s; starting from step 1", dir)}, nil
	case err != nil:
		return nil, err
	}
	var notes []string
	for _, e := range skipped {
		notes = append(notes, fmt.Sprintf("qat: warning: skipped a bad checkpoint: %v", e))
	}
	if tr.StepsDone() > steps {
		return nil, fmt.Errorf("checkpoint %s is at step %d, past this run's %d steps (raise --steps to train further)", path, tr.StepsDone(), steps)
	}
	return append(notes, fmt.Sprintf("qat: resuming from %s (step %d of %d)", path, tr.StepsDone(), steps)), nil
}

// shape describes a model by its layers' output shapes, e.g.
// "[10] -> [32] -> [10]".
func shape(m models.Model) string {
	dims := func(d []int64) string {
		s := make([]string, len(d))
		for i, v := range d {
			s[i] = strconv.FormatInt(v, 10)
		}
		return strings.Join(s, "x")
	}
	shapes, err := m.Shapes()
	if err != nil {
		return err.Error()
	}
	parts := []string{dims(m.Input)}
	for _, s := range shapes {
		parts = append(parts, dims(s))
	}
	return strings.Join(parts, " -> ")
}

// configYAML is the run's config (as qat export reads it), with its file
// paths made absolute so the copy works from any folder.
func configYAML(cfg *models.Config) ([]byte, error) {
	c := *cfg
	paths := []*string{&c.Data.NPZ, &c.Init}
	if c.Validation != nil {
		v := *c.Validation
		c.Validation = &v
		paths = append(paths, &v.NPZ)
	}
	for _, p := range paths {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return nil, err
			}
			*p = abs
		}
	}
	var b bytes.Buffer
	if err := c.Encode(&b); err != nil {
		return nil, fmt.Errorf("config.yaml: %w", err)
	}
	return b.Bytes(), nil
}

// progress shows training progress on w: a bar with the loss on a
// terminal, otherwise a line every few steps (and at the last) with the
// loss, the steps per second since the line before and the time left at
// that rate.
type progress struct {
	w            io.Writer
	steps, every int
	bar          *progressbar.ProgressBar
	now          func() time.Time
	lastStep     int       // the step of the line before (or the first step's predecessor)
	lastAt       time.Time // when it was printed (or when progress began)
}

// newProgress shows steps steps, the first done of them already run.
func newProgress(w io.Writer, steps, every, done int) *progress {
	p := &progress{w: w, steps: steps, every: every, now: time.Now, lastStep: done}
	p.lastAt = p.now()
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(steps, progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("loss     -"), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30), progressbar.OptionSetItsString("steps"), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(50*time.Millisecond), progressbar.OptionClearOnFinish())
		_ = p.bar.Set(done)
	}
	return p
}

func (p *progress) step(r loop.StepResult) {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("loss %.4f", r.Loss))
		_ = p.bar.Add(1) // a display error must not stop training
		return
	}
	if r.Step%p.every != 0 && r.Step != p.steps {
		return
	}
	now := p.now()
	line := fmt.Sprintf("step %d/%d loss %.4f", r.Step, p.steps, r.Loss)
	if secs := now.Sub(p.lastAt).Seconds(); secs > 0 && r.Step > p.lastStep {
		rate := float64(r.Step-p.lastStep) / secs
		line += fmt.Sprintf(", %.3g steps/s", rate)
		if left := p.steps - r.Step; left > 0 {
			line += ", ETA " + (time.Duration(float64(left) / rate * float64(time.Second))).Round(time.Second).String()
		}
	}
	fmt.Fprintln(p.w, line)
	p.lastStep, p.lastAt = r.Step, now
}

// line prints a line of its own (an epoch's), above the bar on a
// terminal.
func (p *progress) line(s string) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintln(p.w, s)
}

func (p *progress) done() {
	if p.bar != nil && !p.bar.IsFinished() {
		_ = p.bar.Clear()
	}
}
