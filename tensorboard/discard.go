package tensorboard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// footprint is what opening a Writer on dir adds to the file system: the
// folders it makes and the event files that were not there before.
type footprint struct {
	dir    string
	made   []string        // folders that did not exist, outermost first
	before map[string]bool // event files there before
}

// eventFiles is the glob of the files a Writer creates.
const eventFiles = "events.out.tfevents.*"

// newFootprint notes what exists of dir and its parents before a Writer
// opens it.
func newFootprint(dir string) *footprint {
	f := &footprint{dir: dir, before: map[string]bool{}}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		f.made = append([]string{d}, f.made...)
		if d == filepath.Dir(d) {
			break
		}
	}
	old, _ := filepath.Glob(filepath.Join(dir, eventFiles))
	for _, p := range old {
		f.before[p] = true
	}
	return f
}

// undo removes the event files written since, and the folders made, if
// they are empty then.
func (f *footprint) undo() error {
	now, err := filepath.Glob(filepath.Join(f.dir, eventFiles))
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range now {
		if !f.before[p] {
			errs = append(errs, os.Remove(p))
		}
	}
	for _, d := range slices.Backward(f.made) {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("tensorboard: %w", err))
		}
	}
	return errors.Join(errs...)
}
