// Package atomicfile writes files and folders so that a crash or an error
// never leaves a half-written one under its final name.
//
// Files are created with mode 0644 and folders with 0755, less the
// process's umask, as os.Create and os.Mkdir do: another user can read
// what qat writes unless the umask says otherwise.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// FileMode and DirMode are the modes files and folders are created with
// (before the umask).
const (
	FileMode os.FileMode = 0o644
	DirMode  os.FileMode = 0o755
)

// Write writes a file through write into a temporary file beside path,
// flushes it to disk and renames it to path, so a crash never leaves a
// half-written file under path. On error path is unchanged.
func Write(path string, write func(io.Writer) error) error {
	tmp, err := stage(path, write)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// WriteFile writes data to path with Write.
func WriteFile(path string, data []byte) error {
	return Write(path, bytesWriter(data))
}

func bytesWriter(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

// stage writes a synced temporary file beside path and returns its name.
func stage(path string, write func(io.Writer) error) (string, error) {
	f, err := createTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return "", err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// createTemp creates a new file dir/<prefix><random> with FileMode less
// the umask (os.CreateTemp would make it 0600).
func createTemp(dir, prefix string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64()%1e12, 10))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("cannot create a temporary file %s* in %s", prefix, dir)
}

// MkdirTemp creates a new folder dir/<prefix><random> with DirMode less
// the umask (os.MkdirTemp would make it 0700) and returns its path.
func MkdirTemp(dir, prefix string) (string, error) {
	for range 100 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64()%1e12, 10))
		err := os.Mkdir(name, DirMode)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		return name, nil
	}
	return "", fmt.Errorf("cannot create a temporary folder %s* in %s", prefix, dir)
}

// Set is a group of files in one folder written together: Add writes
// each to a synced temporary file, Commit renames them all into place.
// Until Commit nothing under the final names changes, so an error while
// writing any of them leaves the folder as it was. Commit's renames are
// not one atomic step: a crash during them (a few renames) may leave some
// files of the set new and others old.
type Set struct {
	dir   string
	names []string // final names, in the order added
	tmps  []string
}

// NewSet starts a set of files in dir.
func NewSet(dir string) *Set { return &Set{dir: dir} }

// Add writes the file dir/name (through write) to a temporary file.
func (s *Set) Add(name string, write func(io.Writer) error) error {
	path := filepath.Join(s.dir, name)
	tmp, err := stage(path, write)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	s.names, s.tmps = append(s.names, name), append(s.tmps, tmp)
	return nil
}

// AddFile is Add with the file's bytes.
func (s *Set) AddFile(name string, data []byte) error {
	return s.Add(name, bytesWriter(data))
}

// Names returns the names of the files added so far, in order.
func (s *Set) Names() []string { return append([]string(nil), s.names...) }

// Commit renames every file into place and syncs the folder. After an
// error the files not yet renamed are removed.
func (s *Set) Commit() error {
	for i, tmp := range s.tmps {
		if err := os.Rename(tmp, filepath.Join(s.dir, s.names[i])); err != nil {
			s.tmps = s.tmps[i:]
			s.Abort()
			return fmt.Errorf("write %s: %w", filepath.Join(s.dir, s.names[i]), err)
		}
	}
	s.tmps = nil
	return Sync(s.dir)
}

// Abort removes the temporary files of a set not committed.
func (s *Set) Abort() {
	for _, tmp := range s.tmps {
		os.Remove(tmp)
	}
	s.tmps = nil
}

// Sync flushes a file's data, or a folder's entries (renames, new
// files), to disk.
func Sync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
