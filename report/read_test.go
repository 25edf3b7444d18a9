package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad run files are errors naming the file, the line and the column.
func TestReadBadFiles(t *testing.T) {
	for _, tt := range []struct {
		file, text, want string
	}{
		{"losses.csv", "", "losses.csv: empty file (want a header line)"},
		{"losses.csv", "step,value\n1,2\n", `losses.csv: the header "step,value" has no column "loss"`},
		{"losses.csv", "step,loss\n1,0.5\n3,0.4\n", "losses.csv: line 3 is step 3, want 2"},
		{"losses.csv", "step,loss\n1,x\n", "losses.csv: line 2, column loss: invalid syntax"},
		{"losses.csv", "step,loss\n", "losses.csv: no steps"},
		{"losses.csv", "step,loss\n1,0.5,7\n", "losses.csv: line 2 has 3 cells, the header 2"},
		{"history.csv", "loss\n0.5\n", `history.csv: the header "loss" has no column "epoch"`},
		{"history.csv", "epoch,val_loss\n1,nope\n", "history.csv: line 2, column val_loss: invalid syntax"},
		{"ranges.csv", "step,quantizer,channel,min,max\n1,a,one,0,1\n", "ranges.csv: line 2, column channel: invalid syntax"},
		{"ranges.csv", "step,quantizer,min\n", `ranges.csv: the header "step,quantizer,min" has no column "max"`},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		r := &Run{Dir: dir}
		var err error
		switch tt.file {
		case "losses.csv":
			err = r.readLosses()
		case "history.csv":
			err = r.readHistory()
		default:
			_, err = ReadRanges(filepath.Join(dir, tt.file))
		}
		if err == nil || !strings.HasSuffix(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), dir) {
			t.Errorf("%s %q: error %v, want %s/%s", tt.file, tt.text, err, dir, tt.want)
		}
	}
}

// history.csv's columns are read by name, in any order; absent columns
// are left out and empty cells are NaN.
func TestReadHistoryColumns(t *testing.T) {
	dir := t.TempDir()
	text := "val_accuracy,epoch,loss,learning_rate\n,1,0.9,0.001\n0.75,2,0.5,0.0005\n"
	if err := os.WriteFile(filepath.Join(dir, "history.csv"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Run{Dir: dir}
	if err := r.readHistory(); err != nil {
		t.Fatal(err)
	}
	if len(r.History) != 4 || r.History["epoch"][1] != 2 || r.History["loss"][0] != float64(float32(0.9)) ||
		!math.IsNaN(r.History["val_accuracy"][0]) || r.History["val_accuracy"][1] != 0.75 || r.History["learning_rate"][1] != float64(float32(0.0005)) {
		t.Errorf("history %v", r.History)
	}
	tab := historyTable(r.History)
	if got := strings.Join(tab.Header, ","); got != "epoch,loss,val_accuracy,learning_rate" {
		t.Errorf("table columns %s", got)
	}
	if got := strings.Join(tab.Rows[0], ","); got != "1,0.9,,0.001" {
		t.Errorf("first row %s", got)
	}
}
