package tensorboard_test

import (
	"fmt"
	"os"
	"path/filepath"

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
