package main

// qat train's epochs: the callbacks a config asks for, DIR/history.csv
// and the epoch line.

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// historyMetrics are history.csv's columns after epoch and step: every
// metric Fit reports, in its order.
var historyMetrics = loop.FitMetrics(true)

// historyHeader is DIR/history.csv's header, "epoch,step,loss,accuracy,
// val_loss,val_accuracy,val_float_loss,val_float_accuracy,learning_rate"
// (report.HistoryColumns reads it).
var historyHeader = "epoch,step," + strings.Join(historyMetrics, ",")

// fitCallbacks returns the callbacks the config asks for, checked against
// the metrics the run reports (so a monitored metric that does not exist
// fails before anything is written): early stopping and the best
// checkpoint in DIR/best.
func fitCallbacks(cfg *models.Config, out string, validation bool) (es *loop.EarlyStopping, best *loop.BestCheckpoint, err error) {
	metrics := loop.FitMetrics(validation)
	if e := cfg.EarlyStopping; e != nil {
		es = loop.NewEarlyStopping(*e)
		if err := es.Check(metrics); err != nil {
			return nil, nil, err
		}
	}
	if b := cfg.BestCheckpoint; b != nil {
		best = loop.NewBestCheckpoint(*b, filepath.Join(out, "best"))
		if err := best.Check(metrics); err != nil {
			return nil, nil, err
		}
	}
	return es, best, nil
}

// f32 formats a float32 so that it reads back to the same float32; NaN
// (a metric the epoch lacks) is empty.
func f32(v float32) string {
	if math.IsNaN(float64(v)) {
		return ""
	}
	return strconv.FormatFloat(float64(v), 'g', -1, 32)
}

// historyCSV is DIR/history.csv: one row per epoch.
func historyCSV(h []loop.EpochResult) []byte {
	var b bytes.Buffer
	b.WriteString(historyHeader + "\n")
	for _, e := range h {
		fmt.Fprintf(&b, "%d,%d", e.Epoch, e.Step)
		for _, name := range historyMetrics {
			v, ok := e.Metric(name)
			if !ok {
				v = float32(math.NaN()) // an empty cell
			}
			b.WriteString("," + f32(v))
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// readHistory reads the epochs of DIR/history.csv that end at or before
// step (those of the checkpoint a run resumes from); a missing file has
// none.
func readHistory(path string, step int) ([]loop.EpochResult, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != historyHeader {
		return nil, fmt.Errorf("%s: the header is not %s", path, historyHeader)
	}
	var h []loop.EpochResult
	for i, row := range rows[1:] {
		var e loop.EpochResult
		ints := []*int{&e.Epoch, &e.Step}
		for j, p := range ints {
			if *p, err = strconv.Atoi(row[j]); err != nil {
				return nil, fmt.Errorf("%s: row %d: %w", path, i+2, err)
			}
		}
		for j, name := range historyMetrics {
			v := math.NaN()
			if s := row[len(ints)+j]; s != "" {
				if v, err = strconv.ParseFloat(s, 32); err != nil {
					return nil, fmt.Errorf("%s: row %d: %w", path, i+2, err)
				}
			}
			e.SetMetric(name, float32(v))
		}
		if e.Step <= step {
			h = append(h, e)
		}
	}
	return h, nil
}

// epochLine is the line printed at the end of an epoch, as Keras's:
// "epoch 2/5: loss 0.3100 accuracy 0.9100 val_loss 0.3300 val_accuracy
// 0.9000" (and the float validation accuracy of a quantized model).
func epochLine(e loop.EpochResult, epochs int, quantized bool) string {
	s := fmt.Sprintf("epoch %d/%d:", e.Epoch, epochs)
	add := func(name string, v float32) {
		if !math.IsNaN(float64(v)) { // a loss without an accuracy has NaN
			s += fmt.Sprintf(" %s %.4f", name, v)
		}
	}
	add("loss", e.Loss)
	add("accuracy", e.Accuracy)
	if e.HasValidation() {
		add("val_loss", e.ValLoss)
		add("val_accuracy", e.ValAccuracy)
		if quantized {
			add("val_float_accuracy", e.ValFloatAccuracy)
		}
	}
	return s
}

// historyRow is an epoch in metrics.json, under the names of
// history.csv's columns (null for a metric the epoch lacks).
type historyRow struct {
	Epoch            int      `json:"epoch"`
	Step             int      `json:"step"`
	Loss             *jsonF32 `json:"loss"`
	Accuracy         *jsonF32 `json:"accuracy"`
	ValLoss          *jsonF32 `json:"val_loss"`
	ValAccuracy      *jsonF32 `json:"val_accuracy"`
	ValFloatLoss     *jsonF32 `json:"val_float_loss"`
	ValFloatAccuracy *jsonF32 `json:"val_float_accuracy"`
	LearningRate     *jsonF32 `json:"learning_rate"`
}

// jsonF32 is a float32 written so that it reads back to the same float32.
type jsonF32 float32

// MarshalJSON writes the shortest decimal that rounds to the float32.
func (f jsonF32) MarshalJSON() ([]byte, error) { return []byte(f32(float32(f))), nil }

func historyRows(h []loop.EpochResult) []historyRow {
	opt := func(v float32) *jsonF32 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil // JSON has no NaN or infinity
		}
		j := jsonF32(v)
		return &j
	}
	rows := make([]historyRow, len(h))
	for i, e := range h {
		rows[i] = historyRow{Epoch: e.Epoch, Step: e.Step, Loss: opt(e.Loss), Accuracy: opt(e.Accuracy),
			ValLoss: opt(e.ValLoss), ValAccuracy: opt(e.ValAccuracy), ValFloatLoss: opt(e.ValFloatLoss),
			ValFloatAccuracy: opt(e.ValFloatAccuracy), LearningRate: opt(e.LearningRate)}
	}
	return rows
}
