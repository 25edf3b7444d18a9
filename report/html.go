package report

import (
	"fmt"
	"html/template"
	"strconv"
)

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) },
	"raw":   func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) },
	"pct1":  func(v float64) string { return fmt.Sprintf("%.1f%%", v) },
	"first": func(fs []Figure, section string) []Figure { return figures(fs, section) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>qat run report: {{.Dir}}</title>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 80em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { display: block; max-width: 100%; margin: 0.5em 0 1.5em; }
.figures { display: grid; grid-template-columns: 1fr 1fr; gap: 0 1em; }
</style>
</head>
<body>
<h1>Run report</h1>
<p>Run folder <code>{{.Dir}}</code>. Every picture's numbers are in the tables beside it.</p>

<h2 id="summary">Summary</h2>
<table id="summary-table">
<tr><th>steps</th><td id="steps">{{.Steps}}</td></tr>
<tr><th>loss at step 1</th><td id="first-loss">{{.FirstLoss}}</td></tr>
<tr><th>loss at the last step (losses.csv)</th><td id="last-loss">{{.LastLoss}}</td></tr>
{{- with .Metrics}}
<tr><th>test accuracy, fake quant (metrics.json)</th><td id="fake-quant-accuracy" data-value="{{raw .FakeQuantAccuracy}}">{{pct .FakeQuantAccuracy}}</td></tr>
<tr><th>test accuracy, float (metrics.json)</th><td id="float-accuracy" data-value="{{raw .FloatAccuracy}}">{{pct .FloatAccuracy}}</td></tr>
<tr><th>test examples</th><td id="test-examples">{{.TestExamples}}</td></tr>
{{- end}}
</table>

<h2 id="loss">Loss</h2>
{{range first .Figures "loss"}}<img src="{{.File}}" alt="{{.Title}}">{{end}}

{{- with .History}}
<h2 id="history">Per epoch (history.csv)</h2>
{{range first $.Figures "history"}}<img src="{{.File}}" alt="{{.Title}}">{{end}}
<table id="history-table">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{- end}}

<h2 id="ranges">Quantizer ranges over the steps (ranges.csv)</h2>
{{- if .Ranges}}
<p>Per-channel quantizers are drawn as the lowest min and the highest max of their channels; ranges.csv has every channel.</p>
<table id="ranges-table">
<tr><th>quantizer</th><th>channels</th><th>last step</th><th>min</th><th>max</th></tr>
{{range .Ranges}}<tr><td>{{.Quantizer}}</td><td>{{.Channels}}</td><td>{{.LastStep}}</td><td>{{.Min}}</td><td>{{.Max}}</td></tr>
{{end}}</table>
<div class="figures">{{range first .Figures "ranges"}}<img src="{{.File}}" alt="{{.Title}}">{{end}}</div>
{{- else}}
<p>No ranges.csv in this folder (runs before qat wrote it, or a float model).</p>
{{- end}}

<h2 id="weights">Weights and their quantization grid</h2>
<p>Histograms of the final float weights (weights.npz) with the grid of levels their quantizer's last range (ranges.npz) gives, nudged as TensorFlow's FakeQuant kernels nudge it. Used counts the levels that at least one weight rounds to (per channel, summed over the channels); clipped counts the weights outside the range.</p>
<table id="weights-table">
<tr><th>weights</th><th>quantizer</th><th>bits</th><th>narrow range</th><th>channels</th><th>levels per channel</th><th>levels used</th><th>used</th><th>clipped</th></tr>
{{range .Weights}}<tr class="weight-row" data-layer="{{.Layer}}"><td>{{.Layer}}/{{.Variable}}</td>{{if .Note}}<td colspan="8">{{.Quantizer}} {{.Note}}</td>{{else}}<td>{{.Quantizer}}</td><td>{{.Bits}}</td><td>{{.Narrow}}</td><td>{{.Channels}}</td><td>{{.Levels}}</td><td class="levels-used">{{.Used}}</td><td>{{pct1 .UsedPercent}}</td><td>{{.Clipped}}</td>{{end}}</tr>
{{end}}</table>
<div class="figures">{{range .Weights}}<img src="{{.Image}}" alt="{{.Layer}}/{{.Variable}}">{{end}}</div>
</body>
</html>
`))

// figures returns the figures of one section.
func figures(fs []Figure, section string) []Figure {
	var out []Figure
	for _, f := range fs {
		if f.Section == section {
			out = append(out, f)
		}
	}
	return out
}
