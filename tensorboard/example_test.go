package tensorboard_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tensorboard"
)

// A Writer logs scalars and histograms at a step; Close flushes the event
// file, which `tensorboard --logdir` then shows.
func ExampleNewWriter() {
	dir, err := os.MkdirTemp("", "logs")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	w, err := tensorboard.NewWriter(filepath.Join(dir, "train"))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Scalars(1, map[string]float32{"loss": 0.5, "learning_rate": 0.001}); err != nil {
		fmt.Println(err)
	}
	if err := w.Histograms(1, map[string][]float32{"weights/d/kernel": {-0.5, 0.25, 1}}); err != nil {
		fmt.Println(err)
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "train", "events.out.tfevents.*"))
	fmt.Println(len(files), "event file")
	// Output: 1 event file
}

// Log a training run every 5 steps into logs/train, as qat train does.
func ExampleNewRunLogger() {
	m := models.Example3()
	ds, err := data.Synthetic(100, int(m.Input[0]), m.Classes(), 42)
	if err != nil {
		log.Fatal(err)
	}
	cfg := loop.DefaultConfig()
	tr, err := loop.NewTrainer(m, ds, nil, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	dir, err := os.MkdirTemp("", "run")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	logs, err := tensorboard.NewRunLogger(tr, tensorboard.RunConfig{Dir: filepath.Join(dir, "logs"), Every: 5, Steps: 20, Optimizer: cfg.Optimizer})
	if err != nil {
		log.Fatal(err)
	}
	if err := tr.Run(context.Background(), 20, logs.Step); err != nil {
		log.Fatal(err)
	}
	if err := logs.Close(); err != nil {
		log.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "logs", "train", "events.out.tfevents.*"))
	fmt.Println(len(files), "event file in logs/train")
	// Output: 1 event file in logs/train
}
