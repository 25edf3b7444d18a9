package savedmodel

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRenameNoReplace checks the export's last step: a folder (even an
// empty one, which rename(2) would replace) at the target is an error
// wrapping os.ErrExist and both folders stay as they were.
func TestRenameNoReplace(t *testing.T) {
	for _, rename := range []struct {
		name string
		fn   func(old, new string) error
	}{
		{"renameNoReplace", renameNoReplace},
		{"checkThenRename", checkThenRename},
	} {
		t.Run(rename.name, func(t *testing.T) {
			base := t.TempDir()
			src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
			if err := os.Mkdir(src, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, "saved_model.pb"), []byte("pb"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			err := rename.fn(src, dst)
			if !errors.Is(err, os.ErrExist) {
				t.Fatalf("onto an empty folder: error %v, want one wrapping os.ErrExist", err)
			}
			if entries, _ := os.ReadDir(dst); len(entries) != 0 {
				t.Errorf("the empty folder was replaced: it holds %d entries", len(entries))
			}
			if _, err := os.Stat(filepath.Join(src, "saved_model.pb")); err != nil {
				t.Errorf("the source folder lost its file: %v", err)
			}
			if err := os.Remove(dst); err != nil {
				t.Fatal(err)
			}
			if err := rename.fn(src, dst); err != nil {
				t.Fatalf("onto nothing: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dst, "saved_model.pb")); err != nil {
				t.Errorf("after the rename: %v", err)
			}
		})
	}
}
