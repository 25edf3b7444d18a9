package loop_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// twoWorkers is a cluster of a chief, a ps and two workers.
func twoWorkers() *loop.DataParallel {
	return &loop.DataParallel{Workers: []string{"/job:worker/task:0", "/job:worker/task:1"},
		Variables: []string{"/job:ps/task:0"}, Chief: "/job:chief/task:0"}
}

// NewTrainer refuses a data-parallel setup it cannot train as one
// process would, before it opens a session, with an error naming why.
func TestDataParallelRejects(t *testing.T) {
	const mlp = "input: [4]\nlayers:\n  - {type: dense, name: d1, units: 8, activation: relu}\n"
	const out = "  - {type: dense, name: d, units: 3}\n"
	const scheme = "scheme:\n  input_bits: 8\n  default: {weight_bits: 8, activation_bits: 8%s}\n"
	three := twoWorkers()
	three.Workers = append(three.Workers, "/job:worker/task:2")
	tests := []struct {
		name, config string
		parallel     *loop.DataParallel
		want         string
	}{
		{"no workers", mlp + out, &loop.DataParallel{Variables: []string{"/job:ps/task:0"}, Chief: "/job:chief/task:0"}, "data parallel: no worker devices"},
		{"no variables", mlp + out, &loop.DataParallel{Workers: []string{"/job:worker/task:0"}, Chief: "/job:chief/task:0"}, "data parallel: no devices for the variables"},
		{"no chief", mlp + out, &loop.DataParallel{Workers: []string{"/job:worker/task:0"}, Variables: []string{"/job:ps/task:0"}}, "data parallel: no chief device"},
		{"uneven batch", mlp + out, three, "the global batch of 8 rows does not split evenly over 3 workers"},
	}
	ds, err := data.Synthetic(16, 4, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := models.ParseConfig(strings.NewReader(tt.config))
			if err != nil {
				t.Fatal(err)
			}
			m, err := cfg.Model()
			if err != nil {
				t.Fatal(err)
			}
			ds := ds
			if m.Input[0] == 2 { // the 4 inputs as a 2x2 image
				ds.X.Shape = []int64{16, 2, 2, 1}
			}
			lc := loop.DefaultConfig()
			lc.BatchSize, lc.Parallel = 8, tt.parallel
			lc.Session.Target = "grpc://localhost:1" // never reached
			tr, err := loop.NewTrainer(m, ds, nil, lc)
			if err == nil {
				tr.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// A DataParallel names the devices of a cluster's tasks; the chief's
// session target is a server of the cluster (see the README's
// "Clusters" for a run with `qat worker` and `qat train`).
func ExampleDataParallel() {
	p := &loop.DataParallel{
		Workers:   []string{"/job:worker/task:0", "/job:worker/task:1", "/job:worker/task:2"},
		Variables: []string{"/job:ps/task:0"},
		Chief:     "/job:chief/task:0",
	}
	fmt.Println(p.Validate(96))
	fmt.Println(p.Validate(64))
	// Output:
	// <nil>
	// data parallel: the global batch of 64 rows does not split evenly over 3 workers
}
