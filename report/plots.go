package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Figure sizes (at the PNG writer's 96 dpi: 768 x 384 pixels).
const (
	figWidth  = 8 * vg.Inch
	figHeight = 4 * vg.Inch
	histBins  = 120
)

var (
	colTrain = color.NRGBA{R: 31, G: 119, B: 180, A: 255}
	colVal   = color.NRGBA{R: 255, G: 127, B: 14, A: 255}
	colFloat = color.NRGBA{R: 44, G: 160, B: 44, A: 255}
	colGrid  = color.NRGBA{R: 214, G: 39, B: 40, A: 90}
	colEdge  = color.NRGBA{R: 214, G: 39, B: 40, A: 255}
)

// png renders p as PNG bytes.
func png(p *plot.Plot) ([]byte, error) {
	w, err := p.WriterTo(figWidth, figHeight, "png")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
	p.X.Tick.Marker, p.Y.Tick.Marker = ticks{}, ticks{}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	return p
}

// addLine adds a line through the finite points (xs[i], ys[i]) and
// reports whether there was one.
func addLine(p *plot.Plot, label string, c color.Color, xs, ys []float64) (bool, error) {
	var pts plotter.XYs
	for i := range xs {
		if !math.IsNaN(ys[i]) && !math.IsInf(ys[i], 0) {
			pts = append(pts, plotter.XY{X: xs[i], Y: ys[i]})
		}
	}
	if len(pts) == 0 {
		return false, nil
	}
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return false, fmt.Errorf("%s: %w", label, err)
	}
	l.Color, s.Color = c, c
	l.Width = vg.Points(1.5)
	if len(pts) <= 60 {
		s.Shape = draw.CircleGlyph{}
		p.Add(l, s)
	} else {
		p.Add(l)
	}
	p.Legend.Add(label, l)
	return true, nil
}

// lossPlot draws losses.csv.
func lossPlot(losses []float32) (*plot.Plot, error) {
	p := newPlot("Training loss per step (losses.csv)", "step", "loss")
	xs, ys := make([]float64, len(losses)), make([]float64, len(losses))
	for i, l := range losses {
		xs[i], ys[i] = float64(i+1), float64(l)
	}
	_, err := addLine(p, "loss", colTrain, xs, ys)
	return p, err
}

// historyPlot draws the columns of history.csv named in cols (train,
// validation, float validation) against the epoch; nil when none has a
// value.
func historyPlot(h map[string][]float64, title, y string, cols [3]string) (*plot.Plot, error) {
	p := newPlot(title, "epoch", y)
	colors := [3]color.Color{colTrain, colVal, colFloat}
	any := false
	for i, c := range cols {
		vals, ok := h[c]
		if !ok {
			continue
		}
		drawn, err := addLine(p, c, colors[i], h["epoch"], vals)
		if err != nil {
			return nil, err
		}
		any = any || drawn
	}
	if !any {
		return nil, nil
	}
	return p, nil
}

// rangeTrace is one quantizer's range over the sampled steps: per-channel
// quantizers as the lowest min and highest max of their channels.
type rangeTrace struct {
	Quantizer          string
	Channels           int
	Steps              []float64
	Min, Max           []float64
	LastMin, LastMax   float32
	FirstStep, LastStp int
}

func rangeTraces(rows []RangeSample) []rangeTrace {
	var out []rangeTrace
	for _, q := range quantizers(rows) {
		t := rangeTrace{Quantizer: q}
		chans := map[int]bool{}
		for _, r := range rows {
			if r.Quantizer != q {
				continue
			}
			chans[r.Channel] = true
			s := float64(r.Step)
			if n := len(t.Steps); n == 0 || t.Steps[n-1] != s {
				t.Steps, t.Min, t.Max = append(t.Steps, s), append(t.Min, float64(r.Min)), append(t.Max, float64(r.Max))
				continue
			}
			n := len(t.Steps) - 1
			t.Min[n], t.Max[n] = math.Min(t.Min[n], float64(r.Min)), math.Max(t.Max[n], float64(r.Max))
		}
		t.Channels = len(chans)
		t.LastMin, t.LastMax = float32(t.Min[len(t.Min)-1]), float32(t.Max[len(t.Max)-1])
		t.FirstStep, t.LastStp = int(t.Steps[0]), int(t.Steps[len(t.Steps)-1])
		out = append(out, t)
	}
	return out
}

func rangePlot(t rangeTrace) (*plot.Plot, error) {
	title := fmt.Sprintf("Range of %s over the steps (ranges.csv)", t.Quantizer)
	lo, hi := "min", "max"
	if t.Channels > 1 {
		title = fmt.Sprintf("Range of %s over the steps, %d channels (ranges.csv)", t.Quantizer, t.Channels)
		lo, hi = "lowest channel min", "highest channel max"
	}
	p := newPlot(title, "step", "value")
	if _, err := addLine(p, hi, colVal, t.Steps, t.Max); err != nil {
		return nil, err
	}
	if _, err := addLine(p, lo, colTrain, t.Steps, t.Min); err != nil {
		return nil, err
	}
	headroom(p)
	return p, nil
}

// weightPlot draws a histogram of the float weights with the levels of
// their grid over it. A per-channel grid is drawn in level units, (weight
// - channel min) / channel scale, where all channels share the levels
// 0 .. Levels()-1.
func weightPlot(lw LayerWeights) (*plot.Plot, error) {
	name := lw.Layer + "/" + lw.Variable
	vals := make(plotter.Values, len(lw.Values.Data))
	x := "weight value"
	var levels []float64
	g := lw.Grid
	switch {
	case g == nil:
		for i, v := range lw.Values.Data {
			vals[i] = float64(v)
		}
	case g.Channels() == 1:
		for i, v := range lw.Values.Data {
			vals[i] = float64(v)
		}
		for k := 0; k < g.Levels(); k++ {
			levels = append(levels, float64(g.Value(k, 0)))
		}
	default:
		x = "level: (weight - its channel's min) / its channel's scale"
		n := g.Channels()
		for i, v := range lw.Values.Data {
			if c := i % n; g.Scale[c] != 0 {
				vals[i] = float64((v - g.Min[c]) / g.Scale[c])
			}
		}
		for k := 0; k < g.Levels(); k++ {
			levels = append(levels, float64(k))
		}
	}
	title := fmt.Sprintf("%s: float weights (%d values, float)", name, len(vals))
	if g != nil {
		title = fmt.Sprintf("%s: %d of %d levels used (%d-bit%s)", name, lw.Usage.Used, lw.Usage.Levels*lw.Usage.Channels, g.Bits, narrowText(g.Narrow))
		if g.Channels() > 1 {
			title = fmt.Sprintf("%s: %.1f of %d levels used per channel (%d-bit%s, %d channels)", name, lw.Usage.PerChannel(), g.Levels(), g.Bits, narrowText(g.Narrow), g.Channels())
		}
	}
	p := newPlot(title, x, "count")
	h, err := histogram(vals, levels)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	h.FillColor = color.NRGBA{R: 31, G: 119, B: 180, A: 200}
	h.LineStyle.Width = 0
	p.Add(h)
	p.Legend.Add("float weights", h)
	headroom(p)
	if len(levels) > 0 {
		gl := &gridLines{at: levels, line: draw.LineStyle{Color: colGrid, Width: vg.Points(0.5)},
			edge: draw.LineStyle{Color: colEdge, Width: vg.Points(1.5)}}
		label := fmt.Sprintf("quantization grid: %d levels", len(levels))
		if len(levels) > fullLines {
			gl.tick = 0.06
			label += " (ticks at the top; ends bold)"
		}
		p.Add(gl)
		p.Legend.Add(label, gl)
		p.Legend.Top, p.Legend.YOffs = true, -vg.Points(14)
	}
	return p, nil
}

func narrowText(narrow bool) string {
	if narrow {
		return ", narrow range"
	}
	return ""
}

// fullLines is the most levels drawn as lines across the whole plot;
// finer grids are drawn as ticks along its top.
const fullLines = 64

// histogram bins values on the grid: bins that split each level's cell
// (level ± step/2) evenly, about histBins*2 over the grid, or histBins
// over the values' span without a grid.
func histogram(vals plotter.Values, levels []float64) (*plotter.Histogram, error) {
	if len(levels) < 2 {
		return plotter.NewHist(vals, histBins)
	}
	step := levels[1] - levels[0]
	sub := step / float64(max(1, 2*histBins/len(levels)))
	origin := levels[0] - step/2
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if span := math.Max(hi, levels[len(levels)-1]) - math.Min(lo, levels[0]); span/sub > 4*histBins {
		// values far outside the grid: whole levels per bin
		sub = step * math.Ceil(span/(4*histBins*step))
	}
	first := math.Min(0, math.Floor((lo-origin)/sub))
	last := math.Max(math.Ceil(float64(len(levels))*step/sub), math.Floor((hi-origin)/sub)+1)
	bins := make([]plotter.HistogramBin, int(last-first))
	for i := range bins {
		bins[i].Min = origin + (first+float64(i))*sub
		bins[i].Max = bins[i].Min + sub
	}
	for _, v := range vals {
		i := min(max(int(math.Floor((v-origin)/sub)-first), 0), len(bins)-1)
		bins[i].Weight++
	}
	return &plotter.Histogram{Bins: bins, Width: sub, FillColor: color.Gray{Y: 128}, LineStyle: plotter.DefaultLineStyle}, nil
}

// gridLines draws a vertical line at each level across the plot (or a
// tick along its top, tick of its height, when tick > 0), the first and
// last levels as bold lines.
type gridLines struct {
	at         []float64
	line, edge draw.LineStyle
	tick       float64
}

// Plot implements plot.Plotter.
func (g *gridLines) Plot(c draw.Canvas, p *plot.Plot) {
	tx, _ := p.Transforms(&c)
	for i, v := range g.at {
		st, bottom := g.line, c.Min.Y
		if g.tick > 0 {
			bottom = c.Max.Y - vg.Length(g.tick)*(c.Max.Y-c.Min.Y)
		}
		if i == 0 || i == len(g.at)-1 {
			st, bottom = g.edge, c.Min.Y
		}
		x := tx(v)
		c.StrokeLine2(st, x, bottom, x, c.Max.Y)
	}
}

// DataRange implements plot.DataRanger: the grid's ends are in view.
func (g *gridLines) DataRange() (xmin, xmax, ymin, ymax float64) {
	return g.at[0], g.at[len(g.at)-1], 0, 0
}

// Thumbnail implements plot.Thumbnailer for the legend.
func (g *gridLines) Thumbnail(c *draw.Canvas) {
	x := (c.Min.X + c.Max.X) / 2
	c.StrokeLine2(g.edge, x, c.Min.Y, x, c.Max.Y)
}

// headroom raises the top of p's y axis by a third of its span, room
// for the legend above the data.
func headroom(p *plot.Plot) {
	p.Y.Max += (p.Y.Max - p.Y.Min) / 3
}

// ticks are gonum's default ticks labelled with up to 4 significant
// digits, so that close ticks do not share a label.
type ticks struct{}

// Ticks implements plot.Ticker.
func (ticks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'g', 4, 64)
		}
	}
	return ts
}
