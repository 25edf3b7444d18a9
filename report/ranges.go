package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/qat-go/qat/data"
)

// RangesHeader is the header line of ranges.csv: one row per quantizer
// (per channel, for per-channel quantizers) and sampled step.
const RangesHeader = "step,quantizer,channel,min,max"

// RangeSample is one row of ranges.csv: a quantizer's range after a step.
type RangeSample struct {
	Step int
	// Quantizer is the range variables' name without _min/_max, such as
	// "c1/kernel" or "d/post_activation".
	Quantizer string
	// Channel is the channel of a per-channel quantizer, -1 for a
	// per-tensor one (an empty cell in the file).
	Channel  int
	Min, Max float32
}

// Sample turns a trainer's range variables (<quantizer>_min and
// <quantizer>_max, as loop.Trainer.Ranges returns them) into the rows of
// step, sorted by quantizer and channel. A _min without its _max (or of
// another size) is an error naming the quantizer.
func Sample(step int, ranges data.Weights) ([]RangeSample, error) {
	var rows []RangeSample
	for _, name := range ranges.Names() {
		q, ok := strings.CutSuffix(name, "_min")
		if !ok {
			continue
		}
		lo, hi := ranges[name].Data, ranges[q+"_max"].Data
		if _, has := ranges[q+"_max"]; !has {
			return nil, fmt.Errorf("ranges: quantizer %s has a min but no max", q)
		}
		if len(lo) != len(hi) {
			return nil, fmt.Errorf("ranges: quantizer %s has %d min values and %d max values", q, len(lo), len(hi))
		}
		perChannel := len(ranges[name].Shape) > 0
		for c := range lo {
			ch := c
			if !perChannel {
				ch = -1
			}
			rows = append(rows, RangeSample{Step: step, Quantizer: q, Channel: ch, Min: lo[c], Max: hi[c]})
		}
	}
	return rows, nil
}

// EncodeRanges writes rows as ranges.csv, header first. Floats are
// written so that they read back as the same float32.
func EncodeRanges(w io.Writer, rows []RangeSample) error {
	if _, err := io.WriteString(w, RangesHeader+"\n"); err != nil {
		return err
	}
	f32 := func(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }
	for _, r := range rows {
		ch := ""
		if r.Channel >= 0 {
			ch = strconv.Itoa(r.Channel)
		}
		if _, err := fmt.Fprintf(w, "%d,%s,%s,%s,%s\n", r.Step, r.Quantizer, ch, f32(r.Min), f32(r.Max)); err != nil {
			return err
		}
	}
	return nil
}

// ReadRanges reads a ranges.csv written by EncodeRanges; a missing file
// is os.ErrNotExist (wrapped).
func ReadRanges(path string) ([]RangeSample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tab, err := readTable(f, path, "step", "quantizer", "min", "max")
	if err != nil {
		return nil, err
	}
	rows := make([]RangeSample, 0, len(tab.rows))
	for i := range tab.rows {
		r := RangeSample{Quantizer: tab.cell(i, "quantizer"), Channel: -1}
		if r.Step, err = tab.int(i, "step"); err != nil {
			return nil, err
		}
		if ch := tab.cell(i, "channel"); ch != "" {
			if r.Channel, err = tab.int(i, "channel"); err != nil {
				return nil, err
			}
		}
		if r.Min, err = tab.float(i, "min"); err != nil {
			return nil, err
		}
		if r.Max, err = tab.float(i, "max"); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// table is a CSV file read by column name.
type table struct {
	path string
	cols map[string]int
	rows [][]string
}

// readTable reads a CSV file with a header line that has at least the
// required columns; other columns are kept, and absent ones read as "".
func readTable(r io.Reader, path string, required ...string) (*table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: empty file (want a header line)", path)
	}
	t := &table{path: path, cols: map[string]int{}, rows: recs[1:]}
	for i, name := range recs[0] {
		t.cols[strings.TrimSpace(name)] = i
	}
	for _, c := range required {
		if _, ok := t.cols[c]; !ok {
			return nil, fmt.Errorf("%s: the header %q has no column %q", path, strings.Join(recs[0], ","), c)
		}
	}
	for i, row := range t.rows {
		if len(row) != len(recs[0]) {
			return nil, fmt.Errorf("%s: line %d has %d cells, the header %d", path, i+2, len(row), len(recs[0]))
		}
	}
	return t, nil
}

func (t *table) has(col string) bool { _, ok := t.cols[col]; return ok }

func (t *table) cell(i int, col string) string {
	c, ok := t.cols[col]
	if !ok {
		return ""
	}
	return strings.TrimSpace(t.rows[i][c])
}

func (t *table) int(i int, col string) (int, error) {
	v, err := strconv.Atoi(t.cell(i, col))
	if err != nil {
		return 0, fmt.Errorf("%s: line %d, column %s: %w", t.path, i+2, col, errors.Unwrap(err))
	}
	return v, nil
}

func (t *table) float(i int, col string) (float32, error) {
	v, err := strconv.ParseFloat(t.cell(i, col), 32)
	if err != nil {
		return 0, fmt.Errorf("%s: line %d, column %s: %w", t.path, i+2, col, errors.Unwrap(err))
	}
	return float32(v), nil
}

// quantizers returns the quantizer names of rows in first-seen order.
func quantizers(rows []RangeSample) []string {
	var names []string
	for _, r := range rows {
		if !slices.Contains(names, r.Quantizer) {
			names = append(names, r.Quantizer)
		}
	}
	return names
}
