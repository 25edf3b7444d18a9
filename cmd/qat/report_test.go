package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/report"
)

// trainRun trains the args into a new folder and returns it.
func trainRun(t *testing.T, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "run")
	args = append([]string{"train"}, append(args, "--out", out)...)
	if code, stdout, stderr := qat(t, context.Background(), args...); code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	return out
}

// qat report rebuilds a run's report; a folder that is not a run's is an
// error naming what is missing.
func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "losses.csv")
	write(t, file, "step,loss\n")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "accepts 1 arg(s), received 0"},
		{[]string{"report", filepath.Join(dir, "nope")}, "run folder: stat " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{[]string{"report", file}, file + " is not a folder (want a qat train --out folder)"},
		{[]string{"report", dir}, dir + " is not a run folder: it has no config.yaml, weights.npz, ranges.npz (qat train --out writes them)"},
	} {
		code, stdout, stderr := qat(t, context.Background(), tt.args...)
		if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "qat: "+tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and %q", tt.args, code, stdout, stderr, "qat: "+tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err == nil {
		t.Error("report.html written for a folder that is not a run")
	}
}

// history.csv is read by column name: absent columns and empty val_*
// cells are tolerated, and the per-epoch curves drawn from what is there.
func TestReportHistory(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "w4a8.yaml")
	write(t, cfg, `input: [10]
seed: 1
steps: 6
data: {examples: 100}
optimizer: {name: adam, learning_rate: 0.01}
scheme: {input_bits: 8, default: {weight_bits: 4, activation_bits: 8}}
layers:
  - {type: dense, name: d1, units: 16, activation: relu}
  - {type: dense, name: d, units: 2}
`)
	out := trainRun(t, "--config", cfg, "--log-every", "2")
	write(t, filepath.Join(out, "history.csv"), "epoch,loss,val_loss,accuracy,val_accuracy\n1,0.9,,0.5,\n2,0.7,0.8,0.6,0.55\n3,0.6,0.75,0.7,0.6\n")
	code, stdout, stderr := qat(t, context.Background(), "report", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	pg, err := report.Write(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "wrote " + filepath.Join(out, "report.html") + " with "; !strings.HasPrefix(stdout, want) {
		t.Errorf("stdout %q, want %q...", stdout, want)
	}
	want := [][]string{{"1", "0.9", "0.5", "", ""}, {"2", "0.7", "0.6", "0.8", "0.55"}, {"3", "0.6", "0.7", "0.75", "0.6"}}
	if pg.History == nil || strings.Join(pg.History.Header, ",") != "epoch,loss,accuracy,val_loss,val_accuracy" || !sameCells(pg.History.Rows, want) {
		t.Errorf("history table %+v, want columns epoch,loss,accuracy,val_loss,val_accuracy and rows %v", pg.History, want)
	}
	var files []string
	for _, f := range pg.Figures {
		if f.Section == "history" {
			files = append(files, f.File)
		}
	}
	if strings.Join(files, " ") != "report/epoch_loss.png report/epoch_accuracy.png" {
		t.Errorf("history figures %v", files)
	}
	// ranges.csv: every quantizer every 2 steps, the last sample equal to
	// ranges.npz.
	rows, err := report.ReadRanges(filepath.Join(out, "ranges.csv"))
	if err != nil {
		t.Fatal(err)
	}
	final, err := data.ReadNPZ(filepath.Join(out, "ranges.npz"))
	if err != nil {
		t.Fatal(err)
	}
	steps := map[int]int{}
	for _, r := range rows {
		steps[r.Step]++
		if r.Step == 6 && (r.Min != final[r.Quantizer+"_min"].Data[0] || r.Max != final[r.Quantizer+"_max"].Data[0]) {
			t.Errorf("ranges.csv at step 6: %+v; ranges.npz has [%v, %v]", r, final[r.Quantizer+"_min"].Data, final[r.Quantizer+"_max"].Data)
		}
	}
	if len(final) != 10 || len(steps) != 3 || steps[2] != 5 || steps[4] != 5 || steps[6] != 5 {
		t.Errorf("ranges.csv has rows per step %v, want 5 quantizers at steps 2, 4 and 6 (ranges.npz: %d arrays)", steps, len(final))
	}
	// 4-bit symmetric narrow-range weights: 15 levels.
	if len(pg.Weights) != 2 {
		t.Fatalf("weights %+v, want d1/kernel and d/kernel", pg.Weights)
	}
	for _, w := range pg.Weights {
		if w.Bits != 4 || !w.Narrow || w.Levels != 15 || w.Channels != 1 || w.Used < 2 || w.Used > 15 {
			t.Errorf("%s/%s: %+v, want 4 bits, narrow, 15 levels, 2..15 used", w.Layer, w.Variable, w)
		}
	}
}

func sameCells(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "|") != strings.Join(b[i], "|") {
			return false
		}
	}
	return true
}
