package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
)

// HistoryColumns are the columns of history.csv, one row per epoch; the
// val_* cells may be empty and any column may be absent.
var HistoryColumns = []string{"epoch", "step", "loss", "accuracy", "val_loss", "val_accuracy",
	"val_float_loss", "val_float_accuracy", "learning_rate"}

// Run is what a run folder holds, as read by Read.
type Run struct {
	Dir string
	// Losses is losses.csv: the loss of each step, step 1 first.
	Losses []float32
	// LastLoss is the last loss as losses.csv spells it.
	LastLoss string
	// History is history.csv (nil without one): per column, a value per
	// epoch, NaN where the cell is empty.
	History map[string][]float64
	// Ranges is ranges.csv (nil without one).
	Ranges []RangeSample
	// Metrics is metrics.json (nil without one).
	Metrics *Metrics
	// Config is config.yaml, Model its model.
	Config *models.Config
	Model  models.Model
	// Weights and RangeValues are weights.npz and ranges.npz.
	Weights, RangeValues data.Weights
}

// Metrics is metrics.json: the test set accuracies after an MNIST run.
type Metrics struct {
	TestExamples      int     `json:"test_examples"`
	FakeQuantAccuracy float64 `json:"fake_quant_accuracy"`
	FloatAccuracy     float64 `json:"float_accuracy"`
}

// required are the files without which a folder is not a run's.
var required = []string{"losses.csv", "config.yaml", "weights.npz", "ranges.npz"}

// Read reads the run folder dir. A folder that lacks a run's files is an
// error saying which are missing; an unreadable file is an error naming it.
func Read(dir string) (*Run, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder (want a qat train --out folder)", dir)
	}
	var missing []string
	for _, f := range required {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s is not a run folder: it has no %s (qat train --out writes them)", dir, strings.Join(missing, ", "))
	}
	r := &Run{Dir: dir}
	if err := r.readLosses(); err != nil {
		return nil, err
	}
	if r.Config, err = models.LoadConfig(filepath.Join(dir, "config.yaml")); err != nil {
		return nil, err
	}
	if r.Model, err = r.Config.Model(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "config.yaml"), err)
	}
	if r.Weights, err = data.ReadNPZ(filepath.Join(dir, "weights.npz")); err != nil {
		return nil, err
	}
	if r.RangeValues, err = data.ReadNPZ(filepath.Join(dir, "ranges.npz")); err != nil {
		return nil, err
	}
	if err := r.readHistory(); err != nil {
		return nil, err
	}
	r.Ranges, err = ReadRanges(filepath.Join(dir, "ranges.csv"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return r, r.readMetrics()
}

func (r *Run) readLosses() error {
	path := filepath.Join(r.Dir, "losses.csv")
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	t, err := readTable(f, path, "step", "loss")
	if err != nil {
		return err
	}
	for i := range t.rows {
		step, err := t.int(i, "step")
		if err != nil {
			return err
		}
		if step != i+1 {
			return fmt.Errorf("%s: line %d is step %d, want %d", path, i+2, step, i+1)
		}
		l, err := t.float(i, "loss")
		if err != nil {
			return err
		}
		r.Losses = append(r.Losses, l)
		r.LastLoss = t.cell(i, "loss")
	}
	if len(r.Losses) == 0 {
		return fmt.Errorf("%s: no steps", path)
	}
	return nil
}

// readHistory reads history.csv by column name; columns it lacks and
// empty cells are NaN.
func (r *Run) readHistory() error {
	path := filepath.Join(r.Dir, "history.csv")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	t, err := readTable(f, path, "epoch")
	if err != nil {
		return err
	}
	r.History = map[string][]float64{}
	for _, col := range HistoryColumns {
		if !t.has(col) {
			continue
		}
		vals := make([]float64, len(t.rows))
		for i := range t.rows {
			vals[i] = math.NaN()
			if t.cell(i, col) == "" {
				continue
			}
			v, err := t.float(i, col)
			if err != nil {
				return err
			}
			vals[i] = float64(v)
		}
		r.History[col] = vals
	}
	return nil
}

func (r *Run) readMetrics() error {
	path := filepath.Join(r.Dir, "metrics.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var m Metrics
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r.Metrics = &m
	return nil
}
