package savedmodel

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace moves the folder old to new, failing with an error that
// wraps os.ErrExist if new exists, even if new appeared after the last
// check: renameat2(RENAME_NOREPLACE) is one atomic step. Where the file
// system does not support the flag it checks, then renames.
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("export folder %s already exists; remove it or choose another: %w", new, os.ErrExist)
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		return checkThenRename(old, new)
	}
	return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
}
