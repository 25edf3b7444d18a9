package loop_test

import (
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// cpuTrainer builds a trainer for cfg on ds with lc, in one process
// (workers 0) or as workers data-parallel replicas with every device this
// process's CPU; the test closes it.
func cpuTrainer(t *testing.T, cfg string, ds data.Dataset, workers int, lc loop.Config) *loop.Trainer {
	t.Helper()
	c, err := models.ParseConfig(strings.NewReader(cfg))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Model()
	if err != nil {
		t.Fatal(err)
	}
	if workers > 0 {
		cpu := "/device:CPU:0"
		lc.Parallel = &loop.DataParallel{Workers: make([]string, workers), Variables: []string{cpu}, Chief: cpu}
		for i := range lc.Parallel.Workers {
			lc.Parallel.Workers[i] = cpu
		}
	}
	tr, err := loop.NewTrainer(m, ds, nil, lc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// steps runs n steps of tr and returns their losses.
func steps(t *testing.T, tr *loop.Trainer, n int) []float32 {
	t.Helper()
	var losses []float32
	for range n {
		l, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, l)
	}
	return losses
}
