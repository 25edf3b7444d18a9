package main

import (
	"bytes"
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
}

func newTrain() *cobra.Command {
	f := &trainFlags{}
	c := &cobra.Command{
		Use:   "train",
		Short: "Train one of the article's examples, or a model described by a config file",
		Long: `Train a model with fake-quantized weights, biases and activations, full
batch, with Adam on one intra-op and one inter-op thread. Writes
DIR/losses.csv, DIR/initial_weights.npz and DIR/weights.npz (the final float
master weights).`,
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
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
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
	var losses []float32
	p := newProgress(stderr, cfg.Steps)
	runErr := tr.Run(ctx, cfg.Steps, func(r loop.StepResult) error {
		losses = append(losses, r.Loss)
		p.step(r)
		return nil
	})
	p.done()
	interrupted := runErr != nil && ctx.Err() != nil
	if runErr != nil && !interrupted {
		return runErr
	}
	if err := writeResults(f.out, tr, losses); err != nil {
		return err
	}
	if interrupted {
		return fmt.Errorf("interrupted after step %d of %d; results so far are in %s", len(losses), cfg.Steps, f.out)
	}
	fmt.Fprintf(stdout, "loss %.4f (step 1) -> %.4f (step %d)\n", losses[0], losses[len(losses)-1], len(losses))
	if test != nil {
		if err := evaluate(stdout, f.out, m, tr, *test, lc); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote losses.csv, weights.npz, ranges.npz and initial_weights.npz to %s\n", f.out)
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
	if err := writeFileAtomic(filepath.Join(dir, "losses.csv"), b.Bytes()); err != nil {
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
	return writeFileAtomic(path, b.Bytes())
}

// writeFileAtomic writes data to a temporary file and renames it to path.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// progress shows training progress on w: a bar with the loss on a
// terminal, otherwise a line every 10 steps (and at the last).
type progress struct {
	w     io.Writer
	steps int
	bar   *progressbar.ProgressBar
}

func newProgress(w io.Writer, steps int) *progress {
	p := &progress{w: w, steps: steps}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(steps, progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("loss     -"), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30), progressbar.OptionSetItsString("steps"), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(50*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *progress) step(r loop.StepResult) {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("loss %.4f", r.Loss))
		_ = p.bar.Add(1) // a display error must not stop training
		return
	}
	if r.Step%10 == 0 || r.Step == p.steps {
		fmt.Fprintf(p.w, "step %d/%d loss %.4f\n", r.Step, p.steps, r.Loss)
	}
}

func (p *progress) done() {
	if p.bar != nil && !p.bar.IsFinished() {
		_ = p.bar.Clear()
	}
}
