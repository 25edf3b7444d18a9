package main

// The run folder's files, written together with each checkpoint.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/atomicfile"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/report"
)

// runFiles writes a run's files: DIR/losses.csv, ranges.csv, weights.npz,
// ranges.npz, initial_weights.npz and config.yaml always together with a
// checkpoint in DIR/checkpoints, so that they describe the same state.
type runFiles struct {
	out, ckpts string
	config     []byte // config.yaml
	init       data.Weights
	tr         *loop.Trainer
	stale      []loop.Checkpoint // an earlier run's, removed at the first commit
	commits    int
	written    []string // the files of the last commit
	// samples are the quantizer ranges sampled so far (ranges.csv), of
	// the checkpoint resumed from too.
	samples []report.RangeSample
	history []loop.EpochResult
}

func newRunFiles(out string, cfg *models.Config, init data.Weights, tr *loop.Trainer) (*runFiles, error) {
	conf, err := configYAML(cfg)
	if err != nil {
		return nil, err
	}
	return &runFiles{out: out, ckpts: filepath.Join(out, "checkpoints"), config: conf, init: init, tr: tr}, nil
}

// commit writes a checkpoint of the trainer's state and the run's files
// of that state, and returns the checkpoint's path; undone are the losses
// of steps after that state (undone when the run diverged), added to
// losses.csv. The files are written to temporary files first and renamed
// once the checkpoint is written: if anything fails before, the folder is
// as it was. A metrics.json of an earlier state is removed.
func (r *runFiles) commit(undone []float32) (string, error) {
	set := atomicfile.NewSet(r.out)
	defer set.Abort()
	losses := r.tr.Losses()
	var b bytes.Buffer
	b.WriteString("step,loss\n")
	for i, l := range losses {
		fmt.Fprintf(&b, "%d,%s\n", i+1, strconv.FormatFloat(float64(l), 'g', -1, 32))
	}
	for i, l := range undone {
		fmt.Fprintf(&b, "%d,%s\n", len(losses)+i+1, strconv.FormatFloat(float64(l), 'g', -1, 32))
	}
	w, err := r.tr.Weights()
	if err != nil {
		return "", err
	}
	ranges, err := r.tr.Ranges()
	if err != nil {
		return "", err
	}
	if err := set.AddFile("losses.csv", b.Bytes()); err != nil {
		return "", err
	}
	if err := set.AddFile("history.csv", historyCSV(r.history)); err != nil {
		return "", err
	}
	if err := set.Add("ranges.csv", func(f io.Writer) error { return report.EncodeRanges(f, r.samplesTo(len(losses))) }); err != nil {
		return "", err
	}
	for _, a := range []struct {
		name   string
		arrays data.Weights
	}{{"weights.npz", w}, {"ranges.npz", ranges}, {"initial_weights.npz", r.init}} {
		if err := set.Add(a.name, func(f io.Writer) error { return data.EncodeNPZ(f, a.arrays) }); err != nil {
			return "", err
		}
	}
	if err := set.AddFile("config.yaml", r.config); err != nil {
		return "", err
	}
	path, err := r.tr.Save(r.ckpts)
	if err != nil {
		return "", err
	}
	if err := set.Commit(); err != nil {
		return "", fmt.Errorf("checkpoint %s written, but not the run's files: %w", path, err)
	}
	r.commits++
	r.written = set.Names()
	if err := os.Remove(filepath.Join(r.out, "metrics.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	for _, c := range r.stale {
		if c.Path != path {
			if err := os.RemoveAll(c.Path); err != nil {
				return "", err
			}
		}
	}
	r.stale = nil
	return path, nil
}

// stopped writes what a run that diverged (a NaN/Inf loss, or an update
// that made a variable so) keeps: the last good state, unless no step of
// this command succeeded, and losses.csv up to and including the step
// that diverged. It returns the error that says so.
func (r *runFiles) stopped(d *loop.DivergedError, start int) error {
	msg := d.What() + "; stopping (lower the learning rate or check the data)"
	if d.Kept <= start {
		return fmt.Errorf("%s; no step of this run succeeded, so nothing was written (%s is as it was)", msg, r.out)
	}
	for len(r.history) > 0 && r.history[len(r.history)-1].Step > d.Kept {
		r.history = r.history[:len(r.history)-1] // epochs past the state kept
	}
	ckpt, err := r.commit(d.Losses)
	if err != nil {
		return fmt.Errorf("%s; saving the state after step %d failed: %w", msg, d.Kept, err)
	}
	return fmt.Errorf("%s; %s holds the state after step %d, the last good one (checkpoint %s, weights.npz, ranges.npz) and losses.csv up to and including step %d",
		msg, r.out, d.Kept, ckpt, d.Step)
}

// prepareFolders creates the folders that are missing and checks that
// files can be created in each, so that a read-only output folder fails
// before training. It returns the folders it created, deepest first.
func prepareFolders(dirs ...string) ([]string, error) {
	var made []string
	for _, dir := range dirs {
		for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
			if _, err := os.Lstat(d); err == nil || d == filepath.Dir(d) {
				break
			}
			if !slices.Contains(made, d) {
				made = append(made, d)
			}
		}
	}
	slices.SortFunc(made, func(a, b string) int { return len(b) - len(a) })
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, atomicfile.DirMode); err != nil {
			removeEmpty(made)
			return nil, fmt.Errorf("output folder: %w", err)
		}
		probe, err := os.CreateTemp(dir, ".qat-write-test-*")
		if err != nil {
			removeEmpty(made)
			return nil, fmt.Errorf("output folder %s is not writable: %w", dir, err)
		}
		probe.Close()
		if err := os.Remove(probe.Name()); err != nil {
			return nil, err
		}
	}
	return made, nil
}

// removeEmpty removes the folders made by prepareFolders if they are
// still empty.
func removeEmpty(made []string) {
	for _, d := range made {
		os.Remove(d)
	}
}

// sample records the quantizer ranges after step (for ranges.csv),
// replacing an earlier sample of the same step.
func (r *runFiles) sample(step int) error {
	ranges, err := r.tr.Ranges()
	if err != nil {
		return err
	}
	rows, err := report.Sample(step, ranges)
	if err != nil {
		return err
	}
	r.samples = append(r.samplesTo(step-1), rows...)
	return nil
}

// samplesTo returns the samples of steps up to step.
func (r *runFiles) samplesTo(step int) []report.RangeSample {
	i := len(r.samples)
	for i > 0 && r.samples[i-1].Step > step {
		i--
	}
	return r.samples[:i]
}

// resumeSamples keeps the ranges.csv rows of steps up to step, the
// checkpoint resumed from: the later ones belong to steps this run
// redoes. A missing ranges.csv (a run from before qat wrote it) starts
// the samples here.
func (r *runFiles) resumeSamples(step int) error {
	rows, err := report.ReadRanges(filepath.Join(r.out, "ranges.csv"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	r.samples = rows
	r.samples = r.samplesTo(step)
	return nil
}
