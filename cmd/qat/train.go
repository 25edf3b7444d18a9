package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/report"
	"github.com/qat-go/qat/tensorboard"
	"github.com/qat-go/qat/tfgraph"
	"github.com/spf13/cobra"
)

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
	parallel, err := f.cluster.dataParallel(c, &lc)
	if err != nil {
		return err
	}
	if parallel != "" {
		fmt.Fprintln(stderr, parallel)
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
	case runErr != nil && ctx.Err() == nil && lc.Parallel != nil:
		return fmt.Errorf("data-parallel training stopped: %w\nthe newest checkpoint in %s is whole: bring the task back and continue with --resume", runErr, files.ckpts)
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
