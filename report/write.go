package report

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"gonum.org/v1/plot"

	"github.com/qat-go/qat/internal/atomicfile"
)

// ImageDir is the folder, inside the run folder, of the report's PNGs.
const ImageDir = "report"

// Page is what report.html shows: each figure as a picture and as text.
type Page struct {
	Dir string
	// Steps is the number of steps in losses.csv, FirstLoss and LastLoss
	// the first and last as the file spells them.
	Steps               int
	FirstLoss, LastLoss string
	// Metrics is metrics.json, nil without one.
	Metrics *Metrics
	// Figures are the pictures, in page order.
	Figures []Figure
	// History is history.csv as a table (nil without one).
	History *Table
	// Ranges is each quantizer's range at the last sampled step.
	Ranges []RangeRow
	// Weights is, per layer weight, its grid and how many levels are used.
	Weights []WeightRow
}

// Figure is one PNG of the report, File relative to the run folder.
type Figure struct {
	Section, Title, File string
}

// Table is a table of text cells.
type Table struct {
	Header []string
	Rows   [][]string
}

// RangeRow is a quantizer's range at the last step of ranges.csv.
type RangeRow struct {
	Quantizer          string
	Channels, LastStep int
	Min, Max           string
}

// WeightRow is one weight tensor's grid and level usage.
type WeightRow struct {
	Layer, Variable, Quantizer, Note, Image string
	Bits, Levels, Channels, Used, Clipped   int
	Narrow                                  bool
	// UsedPercent is Used over Levels*Channels, in percent.
	UsedPercent float64
}

// Write reads the run folder dir and writes dir/report.html and its PNGs
// in dir/report (PNGs of an earlier report that this one lacks are
// removed). It returns the page it wrote.
func Write(dir string) (*Page, error) {
	r, err := Read(dir)
	if err != nil {
		return nil, err
	}
	pg, plots, err := r.page()
	if err != nil {
		return nil, err
	}
	imgDir := filepath.Join(dir, ImageDir)
	if err := os.MkdirAll(imgDir, atomicfile.DirMode); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	set := atomicfile.NewSet(imgDir)
	defer set.Abort()
	for i, f := range pg.Figures {
		b, err := png(plots[i])
		if err != nil {
			return nil, fmt.Errorf("report: %s: %w", f.File, err)
		}
		if err := set.AddFile(filepath.Base(f.File), b); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
	}
	var html bytes.Buffer
	if err := pageTemplate.Execute(&html, pg); err != nil {
		return nil, fmt.Errorf("report.html: %w", err)
	}
	if err := set.Commit(); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if err := removeStale(imgDir, set.Names()); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "report.html"), html.Bytes()); err != nil {
		return nil, fmt.Errorf("report.html: %w", err)
	}
	return pg, nil
}

// removeStale removes the PNGs in dir not named in keep.
func removeStale(dir string, keep []string) error {
	old, err := filepath.Glob(filepath.Join(dir, "*.png"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if !slices.Contains(keep, filepath.Base(p)) {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("report: %w", err)
			}
		}
	}
	return nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// page lays out the figures (and their plots, in the same order) and
// their text.
func (r *Run) page() (*Page, []*plot.Plot, error) {
	pg := &Page{Dir: r.Dir, Steps: len(r.Losses), FirstLoss: f32(r.Losses[0]), LastLoss: r.LastLoss, Metrics: r.Metrics}
	var plots []*plot.Plot
	add := func(section, title, file string, p *plot.Plot) {
		pg.Figures = append(pg.Figures, Figure{Section: section, Title: title, File: ImageDir + "/" + file})
		plots = append(plots, p)
	}
	p, err := lossPlot(r.Losses)
	if err != nil {
		return nil, nil, err
	}
	add("loss", "Training loss per step", "loss.png", p)
	if r.History != nil {
		pg.History = historyTable(r.History)
		for _, h := range []struct {
			file, title, y string
			cols           [3]string
		}{
			{"epoch_loss.png", "Loss per epoch (history.csv)", "loss", [3]string{"loss", "val_loss", "val_float_loss"}},
			{"epoch_accuracy.png", "Accuracy per epoch (history.csv)", "accuracy", [3]string{"accuracy", "val_accuracy", "val_float_accuracy"}},
		} {
			p, err := historyPlot(r.History, h.title, h.y, h.cols)
			if err != nil {
				return nil, nil, fmt.Errorf("history.csv: %w", err)
			}
			if p != nil {
				add("history", h.title, h.file, p)
			}
		}
	}
	for i, t := range r.inLayerOrder(rangeTraces(r.Ranges)) {
		p, err := rangePlot(t)
		if err != nil {
			return nil, nil, fmt.Errorf("ranges.csv: %w", err)
		}
		file := fmt.Sprintf("range_%02d_%s.png", i+1, unsafeName.ReplaceAllString(t.Quantizer, "_"))
		add("ranges", "Range of "+t.Quantizer, file, p)
		pg.Ranges = append(pg.Ranges, RangeRow{Quantizer: t.Quantizer, Channels: t.Channels, LastStep: t.LastStp, Min: f32(t.LastMin), Max: f32(t.LastMax)})
	}
	ws, err := r.weightTensors()
	if err != nil {
		return nil, nil, err
	}
	for i, lw := range ws {
		p, err := weightPlot(lw)
		if err != nil {
			return nil, nil, err
		}
		file := fmt.Sprintf("weights_%02d_%s_%s.png", i+1, unsafeName.ReplaceAllString(lw.Layer, "_"), lw.Variable)
		add("weights", lw.Layer+"/"+lw.Variable, file, p)
		row := WeightRow{Layer: lw.Layer, Variable: lw.Variable, Quantizer: lw.Quantizer, Note: lw.Note, Image: ImageDir + "/" + file}
		if g := lw.Grid; g != nil {
			row.Bits, row.Narrow, row.Levels, row.Channels = g.Bits, g.Narrow, lw.Usage.Levels, lw.Usage.Channels
			row.Used, row.Clipped, row.UsedPercent = lw.Usage.Used, lw.Usage.Clipped, 100*lw.Usage.Fraction()
		}
		pg.Weights = append(pg.Weights, row)
	}
	return pg, plots, nil
}

// historyTable is history.csv's columns that are present, in
// HistoryColumns order.
func historyTable(h map[string][]float64) *Table {
	t := &Table{}
	n := 0
	for _, c := range HistoryColumns {
		if v, ok := h[c]; ok {
			t.Header = append(t.Header, c)
			n = len(v)
		}
	}
	for i := 0; i < n; i++ {
		row := make([]string, len(t.Header))
		for j, c := range t.Header {
			if v := h[c][i]; !math.IsNaN(v) {
				row[j] = strconv.FormatFloat(v, 'g', -1, 32)
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// f32 spells v so that it reads back as the same float32.
func f32(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }

// inLayerOrder sorts traces by their layer's place in the model (the
// input's quantizer, of no layer, first), keeping ranges.csv's order
// within a layer.
func (r *Run) inLayerOrder(traces []rangeTrace) []rangeTrace {
	place := map[string]int{}
	for i, l := range r.Model.Layers {
		place[l.LayerName()] = i + 1
	}
	slices.SortStableFunc(traces, func(a, b rangeTrace) int {
		return place[path.Dir(a.Quantizer)] - place[path.Dir(b.Quantizer)]
	})
	return traces
}
