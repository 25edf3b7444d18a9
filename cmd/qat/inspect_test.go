package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qat-go/qat/inspect"
	"github.com/qat-go/qat/internal/oracle"
)

// TestInspectKerasParams imports Keras models and checks that qat
// inspect's parameter counts, layer by layer and in total, are Keras's
// model.count_params() and layer.count_params().
func TestInspectKerasParams(t *testing.T) {
	dir := kerasModels(t, "seq", "func")
	for _, name := range []string{"seq.keras", "func.keras"} {
		t.Run(name, func(t *testing.T) {
			model := filepath.Join(dir, name)
			exported := filepath.Join(t.TempDir(), "exported")
			out, err := oracle.Run("keras_count_params.py", model, exported)
			if err != nil {
				t.Fatal(err)
			}
			var keras struct {
				Total  int64            `json:"total"`
				Layers map[string]int64 `json:"layers"`
			}
			if err := json.Unmarshal(out, &keras); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			r, err := inspect.Inspect(importKeras(t, model))
			if err != nil {
				t.Fatal(err)
			}
			if r.Parameters != keras.Total {
				t.Errorf("total parameters %d, Keras's count_params() %d", r.Parameters, keras.Total)
			}
			seen := 0
			for _, l := range r.Layers {
				want, ok := keras.Layers[l.Name]
				if !ok {
					if l.Parameters != 0 {
						t.Errorf("layer %s (%d parameters) is not a Keras layer", l.Name, l.Parameters)
					}
					continue
				}
				seen++
				if l.Parameters != want {
					t.Errorf("layer %s: %d parameters, Keras %d", l.Name, l.Parameters, want)
				}
			}
			t.Logf("%d parameters in %d layers as Keras counts them (%d layers compared by name)", r.Parameters, len(r.Layers), seen)

			// Keras 3's model.export: its ops are in a function the graph
			// calls, its variables at the top level.
			e, err := inspect.Inspect(exported)
			if err != nil {
				t.Fatal(err)
			}
			if e.Parameters != keras.Total || len(e.Quantizers) != 0 || e.Ops.Counts["StatefulPartitionedCall"] != 1 {
				t.Errorf("model.export SavedModel: %d parameters (Keras %d), %d quantizers, ops %v", e.Parameters, keras.Total, len(e.Quantizers), e.Ops.Counts)
			}
		})
	}
}

// TestInspectCLI checks the table and that --json is the library's Report.
func TestInspectCLI(t *testing.T) {
	run, _, _ := smallRun(t)
	ctx := context.Background()
	for _, path := range []string{run, filepath.Join(run, "saved_model")} {
		want, err := inspect.Inspect(path)
		if err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := qat(t, ctx, "inspect", path, "--json")
		if code != 0 {
			t.Fatalf("inspect --json: %s", stderr)
		}
		var got inspect.Report
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("--json does not parse: %v\n%s", err, stdout)
		}
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("%s: --json gives %+v, Inspect %+v", path, got, *want)
		}
		code, stdout, stderr = qat(t, ctx, "inspect", path)
		if code != 0 {
			t.Fatalf("inspect: %s", stderr)
		}
		for _, line := range []string{
			"LAYER  ", "total  ", "5 quantizers",
			"QUANTIZER                      KIND         BITS  NARROW  SYMMETRIC  CHANNELS  MIN",
			"conv1/kernel                   weights      8     true    true       4         ",
			"FakeQuantWithMinMaxVars            4",
		} {
			if !strings.Contains(stdout, line) {
				t.Errorf("%s: the table lacks %q:\n%s", path, line, stdout)
			}
		}
		if !strings.Contains(stdout, "237\n") {
			t.Errorf("%s: no total of 237 parameters:\n%s", path, stdout)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect"}, "accepts 1 arg(s), received 0"},
		{[]string{"inspect", filepath.Join(run, "nothing")}, "model " + filepath.Join(run, "nothing") + " does not exist"},
		{[]string{"inspect", filepath.Join(run, "checkpoints")}, "model " + filepath.Join(run, "checkpoints") + " is neither a run folder"},
	} {
		trainFails(t, filepath.Join(run, "nothing"), tc.want, tc.args...)
	}
}
