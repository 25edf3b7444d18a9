//go:build !linux

package savedmodel

// renameNoReplace moves the folder old to new unless new exists. Off
// Linux the check and the rename are two steps: an empty folder created
// between them is replaced.
func renameNoReplace(old, new string) error { return checkThenRename(old, new) }
