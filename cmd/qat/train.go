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

	"github.com/qat-go/qat/internal/atomicfile"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
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
}

func newTrain() *cobra.Command {
	f := &trainFlags{}
	c := &cobra.Command{
		Use:   "train",
		Short: "Train one of the article's examples, or a model described by a config file",
		Long: `Train a model with fake-quantized weights, biases and activations, with
Adam on one intra-op and one inter-op thread. Writes DIR/losses.csv,
DIR/initial_weights.npz, DIR/weights.npz (the final float master weights),
DIR/ranges.npz and DIR/config.yaml.

Checkpoints of the whole training state (variables, Adam's slots, the step,
the data order, the losses so far) go to DIR/checkpoints: one at the end of
the run (also when it is interrupted) and, with --checkpoint-every N, one
every N steps; the newest 3 are kept. --resume continues from the newest
checkpoint that reads back cleanly up to the run's total steps, and ends
with the same bits as a run that was never stopped. Python reads them with
tf.train.load_checkpoint("DIR/checkpoints/ckpt-<step>").`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return train(c, f) },
	}
	fl := c.Flags()
	fl.IntVar(&f.example, "example", 3, "train the article's example `N` (1, 2 or 3)")
	fl.StringVar(&f.config, "config", "", "train the model in this YAML `file` (overrides --example)")
	fl.StringVar(&f.init, "init", "", "initial weights from this .npz `file` (keys <layer>/weight_fp, <layer>/bias_fp)")
	fl.StringVar(&f.data, "data", "", "training data from this .npz `file` with x [N, inputs] and y one-hot [N, classes] (default: 100 synthetic examples)")
	fl.IntVar(&f.steps, "steps", 0, "train for `N` steps (default 100, or the config's)")
	fl.Uint64Var(&f.seed, "seed", 0, "seed for initial weights and synthetic data (default 1, or the config's)")
	fl.Float64Var(&f.lr, "lr", 0, "Adam learning rate (default 0.01 for examples, the config's otherwise)")
	fl.BoolVar(&f.fused, "fused", false, "use TensorFlow's fused ResourceApplyAdam kernel")
	fl.IntVar(&f.epochs, "epochs", 0, "train for `N` passes over the data (needs batch_size; overrides --steps)")
	fl.IntVar(&f.threads, "threads", 1, "TensorFlow intra-op threads (1 gives the same bits on every machine)")
	fl.StringVar(&f.out, "out", "out/run", "write results to `DIR` (created if missing)")
	fl.IntVar(&f.checkpointEvery, "checkpoint-every", 0, "also write a checkpoint to DIR/checkpoints every `N` steps (0: only at the end)")
	fl.BoolVar(&f.resume, "resume", false, "continue from the newest good checkpoint in DIR/checkpoints (from step 1 if there is none)")
	fl.IntVar(&f.logEvery, "log-every", 10, "when stderr is not a terminal, print the loss every `N` steps")
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
	if fl.Changed("data") {
		cfg.Data = models.DataConfig{NPZ: f.data}
	}
	return cfg, what, cfg.Validate()
}

func train(c *cobra.Command, f *trainFlags) error {
	ctx, stdout, stderr := c.Context(), c.OutOrStdout(), c.ErrOrStderr()
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
	init, err := cfg.InitialWeights()
	if err != nil {
		return err
	}
	ckpts := filepath.Join(f.out, "checkpoints")
	for _, dir := range []string{f.out, ckpts} {
		if err := writable(dir); err != nil {
			return err
		}
	}
	if err := models.WriteNPZ(filepath.Join(f.out, "initial_weights.npz"), init); err != nil {
		return err
	}
	if err := writeConfig(filepath.Join(f.out, "config.yaml"), cfg); err != nil {
		return err
	}
	lc := loop.DefaultConfig()
	o := cfg.Optimizer
	lc.Adam = loop.Adam{LearningRate: o.LearningRate, Beta1: o.Beta1, Beta2: o.Beta2, Epsilon: o.Epsilon, Fused: o.Fused}
	lc.Seed, lc.DataSeed, lc.BatchSize = cfg.Seed, cfg.Seed, cfg.BatchSize
	lc.Session.IntraOpThreads, lc.Session.InterOpThreads = f.threads, 1
	if cfg.Epochs > 0 {
		cfg.Steps = cfg.Epochs * (int(data.X.Shape[0]) / cfg.BatchSize)
	}
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

	fmt.Fprintf(stdout, "%s: %s, %d examples, adam lr %g%s, %d steps\n",
		what, shape(m), data.X.Shape[0], o.LearningRate, map[bool]string{true: " (fused)"}[o.Fused], cfg.Steps)
	// A run without --resume starts a new history: the checkpoints of an
	// earlier run are removed once this run has written its first.
	var stale []loop.Checkpoint
	if f.resume {
		if err := resume(stderr, tr, ckpts, cfg.Steps); err != nil {
			return err
		}
	} else if stale, err = loop.Checkpoints(ckpts); err != nil {
		return err
	} else if len(stale) > 0 {
		fmt.Fprintf(stderr, "qat: note: %s holds checkpoints of an earlier run (newest: step %d); this run replaces them (pass --resume to continue that run instead)\n", ckpts, stale[0].Step)
	}
	save := func() (string, error) {
		path, err := tr.Save(ckpts)
		if err != nil {
			return "", err
		}
		for _, c := range stale {
			if c.Path != path {
				if err := os.RemoveAll(c.Path); err != nil {
					return "", err
				}
			}
		}
		stale = nil
		return path, nil
	}
	p := newProgress(stderr, cfg.Steps, f.logEvery, tr.StepsDone())
	runErr := tr.Run(ctx, cfg.Steps-tr.StepsDone(), func(r loop.StepResult) error {
		p.step(r)
		if f.checkpointEvery > 0 && r.Step%f.checkpointEvery == 0 && r.Step < cfg.Steps {
			_, err := save()
			return err
		}
		return nil
	})
	p.done()
	interrupted := runErr != nil && ctx.Err() != nil
	if runErr != nil && !interrupted {
		return runErr
	}
	ckpt, err := save()
	if err != nil {
		return err
	}
	losses := tr.Losses()
	if err := writeResults(f.out, tr, losses); err != nil {
		return err
	}
	if interrupted {
		return fmt.Errorf("interrupted after step %d of %d; results so far are in %s (continue with --resume)", len(losses), cfg.Steps, f.out)
	}
	fmt.Fprintf(stdout, "loss %.4f (step 1) -> %.4f (step %d)\n", losses[0], losses[len(losses)-1], len(losses))
	if test != nil {
		if err := evaluate(stdout, f.out, m, tr, *test, lc); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote losses.csv, weights.npz, ranges.npz and initial_weights.npz to %s, checkpoint %s\n", f.out, ckpt)
	return nil
}

// writable creates dir if missing and checks that files can be created in
// it, so that a read-only output folder fails before training.
func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	probe, err := os.CreateTemp(dir, ".qat-write-test-*")
	if err != nil {
		return fmt.Errorf("output folder %s is not writable: %w", dir, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// resume restores the newest good checkpoint in dir, reporting on stderr
// the ones it skipped; with no checkpoint it starts from step 1.
func resume(stderr io.Writer, tr *loop.Trainer, dir string, steps int) error {
	path, skipped, err := tr.RestoreLatest(dir)
	switch {
	case errors.Is(err, loop.ErrNoCheckpoint):
		fmt.Fprintf(stderr, "qat: no checkpoint in %s; starting from step 1\n", dir)
		return nil
	case err != nil:
		return err
	}
	for _, e := range skipped {
		fmt.Fprintf(stderr, "qat: warning: skipped a bad checkpoint: %v\n", e)
	}
	if tr.StepsDone() > steps {
		return fmt.Errorf("checkpoint %s is at step %d, past this run's %d steps (raise --steps to train further)", path, tr.StepsDone(), steps)
	}
	fmt.Fprintf(stderr, "qat: resuming from %s (step %d of %d)\n", path, tr.StepsDone(), steps)
	return nil
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
	parts := []string{dims(m.Input)}
	in := m.Input
	for _, l := range m.Layers {
		out, err := l.OutputShape(in)
		if err != nil {
			return err.Error()
		}
		parts = append(parts, dims(out))
		in = out
	}
	return strings.Join(parts, " -> ")
}

// writeResults writes DIR/losses.csv and DIR/weights.npz.
func writeResults(dir string, tr *loop.Trainer, losses []float32) error {
	w, err := tr.Weights()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("step,loss\n")
	for i, l := range losses {
		fmt.Fprintf(&b, "%d,%s\n", i+1, strconv.FormatFloat(float64(l), 'g', -1, 32))
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "losses.csv"), b.Bytes()); err != nil {
		return err
	}
	if err := models.WriteNPZ(filepath.Join(dir, "weights.npz"), w); err != nil {
		return err
	}
	r, err := tr.Ranges()
	if err != nil {
		return err
	}
	return models.WriteNPZ(filepath.Join(dir, "ranges.npz"), r)
}

// writeConfig writes the run's config (as qat export reads it), with its
// file paths made absolute so the copy works from any folder.
func writeConfig(path string, cfg *models.Config) error {
	c := *cfg
	for _, p := range []*string{&c.Data.NPZ, &c.Init} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return err
			}
			*p = abs
		}
	}
	var b bytes.Buffer
	if err := c.Encode(&b); err != nil {
		return fmt.Errorf("config.yaml: %w", err)
	}
	return atomicfile.WriteFile(path, b.Bytes())
}

// progress shows training progress on w: a bar with the loss on a
// terminal, otherwise a line every few steps (and at the last).
type progress struct {
	w            io.Writer
	steps, every int
	bar          *progressbar.ProgressBar
}

// newProgress shows steps steps, the first done of them already run.
func newProgress(w io.Writer, steps, every, done int) *progress {
	p := &progress{w: w, steps: steps, every: every}
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
	if r.Step%p.every == 0 || r.Step == p.steps {
		fmt.Fprintf(p.w, "step %d/%d loss %.4f\n", r.Step, p.steps, r.Loss)
	}
}

func (p *progress) done() {
	if p.bar != nil && !p.bar.IsFinished() {
		_ = p.bar.Clear()
	}
}
