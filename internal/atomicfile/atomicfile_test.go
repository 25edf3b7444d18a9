package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

// TestModes checks that files are 0644 and folders 0755 less the umask,
// not CreateTemp's and MkdirTemp's private modes.
func TestModes(t *testing.T) {
	dir := t.TempDir()
	mask := umask()
	f := filepath.Join(dir, "a.txt")
	if err := WriteFile(f, []byte("a")); err != nil {
		t.Fatal(err)
	}
	s := NewSet(dir)
	if err := s.AddFile("b.txt", []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	d, err := MkdirTemp(dir, ".tmp-")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{f: 0o644 &^ mask, filepath.Join(dir, "b.txt"): 0o644 &^ mask, d: 0o755 &^ mask} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (umask %03o)", p, info.Mode().Perm(), want, mask)
		}
	}
}

// TestSet checks that a set's files appear only at Commit, and that an
// error in one of them (or Abort) leaves the folder as it was.
func TestSet(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "a"), []byte("old a")); err != nil {
		t.Fatal(err)
	}
	s := NewSet(dir)
	if err := s.AddFile("a", []byte("new a")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := s.Add("b", func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	s.Abort()
	entries, _ := os.ReadDir(dir)
	if b, _ := os.ReadFile(filepath.Join(dir, "a")); string(b) != "old a" || len(entries) != 1 {
		t.Fatalf("after Abort: a is %q and the folder has %d entries, want the old a alone", b, len(entries))
	}
	s = NewSet(dir)
	for _, n := range []string{"a", "b"} {
		if err := s.AddFile(n, []byte("new "+n)); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a")); string(b) != "old a" {
		t.Fatalf("before Commit a is %q", b)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if b, _ := os.ReadFile(filepath.Join(dir, n)); string(b) != "new "+n {
			t.Errorf("after Commit %s is %q", n, b)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d entries after Commit, want 2 (no temporary files)", len(entries))
	}
}
