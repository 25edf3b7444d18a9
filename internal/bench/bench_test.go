package bench

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSummarizeAndMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Summary
	}{
		{[]float64{3}, Summary{3, 3, 3}},
		{[]float64{5, 1, 3}, Summary{1, 3, 5}},
		{[]float64{4, 1, 3, 2}, Summary{1, 2.5, 4}},
		{[]float64{2, 2, 9, 1, 2}, Summary{1, 2, 9}},
	} {
		in := append([]float64(nil), tc.in...)
		got, err := Summarize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Summarize(%v) = %v, %v; want %v", in, got, err, tc.want)
		}
		if !reflect.DeepEqual(tc.in, in) {
			t.Errorf("Summarize changed its input: %v", tc.in)
		}
	}
	for _, bad := range [][]float64{nil, {1, math.NaN()}, {math.Inf(1)}} {
		if _, err := Summarize(bad); err == nil {
			t.Errorf("Summarize(%v): no error", bad)
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

func TestRatios(t *testing.T) {
	got, err := Ratios([]float64{3, 1, 8}, []float64{1, 2, 4})
	if err != nil || !reflect.DeepEqual(got, []float64{3, 0.5, 2}) {
		t.Fatalf("Ratios = %v, %v", got, err)
	}
	for _, tc := range []struct{ c, r []float64 }{
		{[]float64{1, 2}, []float64{1}},
		{[]float64{1}, []float64{0}},
		{[]float64{-1}, []float64{1}},
		{[]float64{math.NaN()}, []float64{1}},
	} {
		if _, err := Ratios(tc.c, tc.r); err == nil {
			t.Errorf("Ratios(%v, %v): no error", tc.c, tc.r)
		}
	}
}

func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		n, r int
		want []int
	}{
		{3, 0, []int{0, 1, 2}},
		{3, 1, []int{1, 2, 0}},
		{3, 2, []int{2, 0, 1}},
		{3, 3, []int{0, 1, 2}},
		{1, 5, []int{0}},
		{0, 2, []int{}},
	} {
		if got := Order(tc.n, tc.r); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Order(%d, %d) = %v, want %v", tc.n, tc.r, got, tc.want)
		}
	}
	// Over n repeats every contender holds every position once.
	n := 4
	seen := make([]map[int]bool, n)
	for r := 0; r < n; r++ {
		for pos, c := range Order(n, r) {
			if seen[c] == nil {
				seen[c] = map[int]bool{}
			}
			seen[c][pos] = true
		}
	}
	for c, s := range seen {
		if len(s) != n {
			t.Errorf("contender %d took positions %v", c, s)
		}
	}
}

func TestBlockSteps(t *testing.T) {
	for _, tc := range []struct {
		ms, s  float64
		lo, hi int
		want   int
	}{
		{0.25, 0.5, 1, 100000, 2000},
		{40, 1, 1, 100000, 25},
		{3000, 0.5, 1, 100000, 1},
		{0.001, 1, 1, 100000, 100000},
		{0, 1, 1, 50, 50},
	} {
		if got := BlockSteps(tc.ms, tc.s, tc.lo, tc.hi); got != tc.want {
			t.Errorf("BlockSteps(%v, %v, %d, %d) = %d, want %d", tc.ms, tc.s, tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestFinishAndMarkdown(t *testing.T) {
	w := Workload{ID: "w", Title: "W: a | b", Threads: 2, Contenders: []Contender{
		{Name: "Go", MsPerStep: []float64{1, 2, 1}, PeakRSS: 400e6},
		{Name: "Py", Note: "jit_compile=True", MsPerStep: []float64{3, 2, 2}, Target: 1.5, PeakRSS: 1.25e9},
		{Name: "Slow", MsPerStep: []float64{1}, Target: 0.5},
		{Name: "Dead", Error: "start: exited (exit status 3); stderr ends:\n    boom"},
	}}
	w.Finish()
	py := w.Contenders[1]
	if *py.Summary != (Summary{2, 2, 3}) || !reflect.DeepEqual(py.Ratios, []float64{3, 1, 2}) || *py.MedianRatio != 2 {
		t.Fatalf("Py: %+v %v %v", *py.Summary, py.Ratios, *py.MedianRatio)
	}
	if s := w.Contenders[2]; !reflect.DeepEqual(s.Ratios, []float64{1}) {
		t.Errorf("a contender that stopped after one repeat: ratios %v", s.Ratios)
	}
	if w.Contenders[0].Ratios != nil || w.Contenders[3].Summary != nil {
		t.Error("Go has ratios, or the dead contender a summary")
	}
	got := Markdown(Results{Workloads: []Workload{w}})
	for _, want := range []string{
		"| W: a \\| b | 2 | Go | 1.00 | 1.00 | 2.00 | reference |  | 400 MB |",
		"|  | 2 | Py (jit_compile=True) | 2.00 | 2.00 | 3.00 | 2.00x (1.00-3.00) | >= 1.5x met | 1250 MB |",
		"|  | 2 | Slow | 1.00 | 1.00 | 1.00 | 1.00x (1.00-1.00) | >= 0.5x met | - |",
		"|  | 2 | Dead | - | - | - | **failed** (see below) |  | - |",
		"- W: a | b, Dead:\n\n```\nstart: exited (exit status 3); stderr ends:\n    boom\n```",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	w.Contenders[1].Target = 2.5
	if got := Markdown(Results{Workloads: []Workload{w}}); !strings.Contains(got, ">= 2.5x **missed**") {
		t.Errorf("a missed target is not marked:\n%s", got)
	}
}

func TestPage(t *testing.T) {
	r := Results{Date: "D", TF: "2.21.0", Go: "go1", Repeats: 12,
		Machine: Machine{NProc: 2, CPU: "Xeon", LoadStart: "7.5 7 6", LoadEnd: "0.5 1 1"}}
	page := Page(r, "old table\n"+Keep+"\n## Profiles\ntop lines\n")
	for _, want := range []string{"2 CPUs (Xeon), TensorFlow 2.21.0", "shared and loaded", "## Method", Keep + "\n## Profiles\ntop lines\n"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "old table") {
		t.Error("the generated part of the old page was kept")
	}
	r.Machine.LoadStart = "0.9 1 1"
	if page := Page(r, ""); strings.Contains(page, "shared and loaded") || !strings.HasSuffix(page, Keep+"\n") {
		t.Errorf("quiet machine:\n%s", page)
	}
}

func TestParse(t *testing.T) {
	if ms, err := parseReply("ms_per_step 0.125"); err != nil || ms != 0.125 {
		t.Errorf("parseReply = %v, %v", ms, err)
	}
	for _, bad := range []string{"ms_per_step", "ms_per_step x", "ms_per_step -1", "ms_per_step NaN", "ready", "error out of memory"} {
		if _, err := parseReply(bad); err == nil {
			t.Errorf("parseReply(%q): no error", bad)
		}
	}
	if _, err := parseReply("error out of memory"); !strings.Contains(err.Error(), "out of memory") {
		t.Errorf("worker error lost: %v", err)
	}
	if b, err := parseVmHWM("Name:\tx\nVmHWM:\t  1234 kB\nVmRSS:\t 1 kB\n"); err != nil || b != 1234*1024 {
		t.Errorf("parseVmHWM = %d, %v", b, err)
	}
	for _, bad := range []string{"VmRSS: 1 kB", "VmHWM: x kB", "VmHWM: 12 MB"} {
		if _, err := parseVmHWM(bad); err == nil {
			t.Errorf("parseVmHWM(%q): no error", bad)
		}
	}
}

// fake is a worker written in sh: it says ready, then answers requests
// with the script's reply.
func fake(reply string) []string {
	return []string{"sh", "-c", `echo "ready note"; while read cmd n; do ` + reply + `; done`}
}

func TestRunWorkload(t *testing.T) {
	o := Options{Repeats: 4, Block: 100 * time.Millisecond, Warmup: 0, MaxSteps: 50, StartTimeout: 5 * time.Second}
	s := Spec{ID: "t", Threads: 1, Contenders: []ContenderSpec{
		{Name: "go", Argv: fake(`[ "$cmd" = quit ] && exit 0; echo ms_per_step 2`)},
		{Name: "py", Argv: fake(`[ "$cmd" = quit ] && exit 0; echo ms_per_step 5`), Target: 3},
		{Name: "dies", Argv: fake(`echo boom >&2; exit 3`)},
		{Name: "mute", Argv: []string{"sh", "-c", "sleep 30"}},
		{Name: "later", Argv: fake(`echo x >> "$F"; [ $(wc -l < "$F") -ge 8 ] && { echo late >&2; exit 4; }; echo ms_per_step 1`),
			Env: []string{"F=" + t.TempDir() + "/x"}},
	}}
	o.StartTimeout = 2 * time.Second
	w := RunWorkload(s, o)
	c := w.Contenders
	if len(c) != 5 {
		t.Fatalf("%d contenders", len(c))
	}
	if c[0].Error != "" || len(c[0].MsPerStep) != 4 || c[0].BlockSteps != 50 || c[0].Note != "note" || c[0].PeakRSS <= 0 {
		t.Errorf("go: %+v", c[0])
	}
	if c[1].Error != "" || *c[1].MedianRatio != 2.5 || len(c[1].Ratios) != 4 {
		t.Errorf("py: %+v", c[1])
	}
	if !strings.Contains(c[2].Error, "exit status 3") || !strings.Contains(c[2].Error, "boom") {
		t.Errorf("dies: %q", c[2].Error)
	}
	if !strings.Contains(c[3].Error, "no answer in 2s") {
		t.Errorf("mute: %q", c[3].Error)
	}
	// 3 calibration and 3 warm-up blocks, one repeat, then it dies.
	if !strings.Contains(c[4].Error, "repeat 2: later: run 50: exited (exit status 4)") || !strings.Contains(c[4].Error, "late") ||
		len(c[4].MsPerStep) != 1 || len(c[4].Ratios) != 1 {
		t.Errorf("later: %+v", c[4])
	}
}
