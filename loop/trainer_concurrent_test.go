package loop_test

import (
	"context"
	"sync"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// TestTrainerConcurrent shares one Trainer between goroutines that step,
// run, save, restore and read its state at once; run it under -race:
//
//	go test -race -run TestTrainerConcurrent ./loop/
//
// Every step is counted once, with its loss, and the checkpoints written
// meanwhile restore.
func TestTrainerConcurrent(t *testing.T) {
	m := models.Example3()
	data, err := data.Synthetic(64, int(m.Input[0]), m.Classes(), 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := loop.DefaultConfig()
	cfg.BatchSize = 8
	tr, err := loop.NewTrainer(m, data, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	const workers, steps = 4, 10
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 4*workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < steps; i++ {
				if _, err := tr.Step(); err != nil {
					errs <- err
					return
				}
				if _, err := tr.Weights(); err != nil {
					errs <- err
				}
				_ = tr.StepsDone()
				_ = tr.Losses()
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := tr.Run(context.Background(), steps, nil); err != nil {
			errs <- err
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 3; i++ {
			if _, err := tr.Save(dir); err != nil {
				errs <- err
			}
			if _, err := tr.Predict(data.X); err != nil {
				errs <- err
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	const total = (workers + 1) * steps
	if n, l := tr.StepsDone(), len(tr.Losses()); n != total || l != total {
		t.Fatalf("%d steps done and %d losses, want %d", n, l, total)
	}
	path, err := tr.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := ckptState(t, tr)
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Restore(path); err != nil {
		t.Fatal(err)
	}
	ckptSameBits(t, "restored", want, ckptState(t, tr))
}
