package bench

import (
	"fmt"
	"strings"
)

// Results is one `make bench` run, as bench/results.json holds it.
type Results struct {
	Date      string     `json:"date"`
	Machine   Machine    `json:"machine"`
	TF        string     `json:"tensorflow_version"`
	Go        string     `json:"go_version"`
	Repeats   int        `json:"repeats"`
	Quick     bool       `json:"quick"`
	Seconds   float64    `json:"seconds"` // the whole run's wall time
	Workloads []Workload `json:"workloads"`
}

// Machine describes where the run happened.
type Machine struct {
	NProc int    `json:"nproc"`
	CPU   string `json:"cpu"`
	// Load averages (1, 5, 15 minutes) from /proc/loadavg at the start and
	// at the end of the run: well above NProc means other work competed.
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`
}

// Workload is one task with its contenders; Contenders[0] is the Go one,
// the reference of every ratio.
type Workload struct {
	ID         string      `json:"id"`
	Title      string      `json:"title"`
	Threads    int         `json:"threads"`
	Unit       string      `json:"unit"` // what a step is: "train step", "inference"
	Contenders []Contender `json:"contenders"`
}

// Contender is one worker's figures in a workload.
type Contender struct {
	Name       string    `json:"name"`
	Note       string    `json:"note,omitempty"` // the worker's ready line
	BlockSteps int       `json:"block_steps,omitempty"`
	MsPerStep  []float64 `json:"ms_per_step"` // per repeat, in run order
	Summary    *Summary  `json:"summary,omitempty"`
	// Ratios are, per repeat, this contender's time over Go's: how many
	// times faster Go was (absent for Go itself).
	Ratios      []float64 `json:"go_speedup,omitempty"`
	MedianRatio *float64  `json:"median_go_speedup,omitempty"`
	// Target is the speed-up over this contender that issue 12 asks of Go
	// (0: none).
	Target  float64 `json:"target,omitempty"`
	PeakRSS int64   `json:"peak_rss_bytes,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// Finish computes each contender's summary and its ratios to the Go
// contender, for the repeats both completed.
func (w *Workload) Finish() {
	if len(w.Contenders) == 0 {
		return
	}
	ref := w.Contenders[0].MsPerStep
	for i := range w.Contenders {
		c := &w.Contenders[i]
		c.Summary, c.Ratios, c.MedianRatio = nil, nil, nil
		if s, err := Summarize(c.MsPerStep); err == nil {
			c.Summary = &s
		}
		if i == 0 {
			continue
		}
		n := min(len(c.MsPerStep), len(ref))
		if n == 0 {
			continue
		}
		if r, err := Ratios(c.MsPerStep[:n], ref[:n]); err == nil {
			c.Ratios = r
			m := Median(r)
			c.MedianRatio = &m
		}
	}
}

// Markdown renders the results table: one row per contender, with the
// Go row first in each workload.
func Markdown(r Results) string {
	var b strings.Builder
	b.WriteString("| workload | threads | contender | min ms | median ms | max ms | Go's speed vs it (median of per-repeat ratios) | target | peak RSS |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, w := range r.Workloads {
		for i, c := range w.Contenders {
			title := ""
			if i == 0 {
				title = w.Title
			}
			name := c.Name
			if c.Note != "" {
				name += " (" + c.Note + ")"
			}
			mn, md, mx := "-", "-", "-"
			if c.Summary != nil {
				mn, md, mx = ms(c.Summary.Min), ms(c.Summary.Median), ms(c.Summary.Max)
			}
			ratio, target := "", ""
			switch {
			case i == 0:
				ratio = "reference"
			case c.MedianRatio != nil:
				ratio = fmt.Sprintf("%.2fx (%.2f-%.2f)", *c.MedianRatio, minOf(c.Ratios), maxOf(c.Ratios))
			default:
				ratio = "-"
			}
			if c.Target > 0 {
				target = fmt.Sprintf(">= %gx", c.Target)
				if c.MedianRatio != nil {
					if *c.MedianRatio >= c.Target {
						target += " met"
					} else {
						target += " **missed**"
					}
				}
			}
			rss := "-"
			if c.PeakRSS > 0 {
				rss = fmt.Sprintf("%.0f MB", float64(c.PeakRSS)/1e6)
			}
			if c.Error != "" {
				ratio = "**failed** (see below)"
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n",
				cell(title), w.Threads, cell(name), mn, md, mx, ratio, target, rss)
		}
	}
	var errs []string
	for _, w := range r.Workloads {
		for _, c := range w.Contenders {
			if c.Error != "" {
				errs = append(errs, fmt.Sprintf("- %s, %s:\n\n```\n%s\n```\n", w.Title, c.Name, c.Error))
			}
		}
	}
	if len(errs) > 0 {
		b.WriteString("\nFailed workers:\n\n" + strings.Join(errs, "\n"))
	}
	return b.String()
}

// ms prints a time in milliseconds with three significant digits (at
// least two decimals below 1 ms).
func ms(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f", v)
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// cell keeps a table cell on one line and its pipes literal.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", `\|`)
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	return m
}
