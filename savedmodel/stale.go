package savedmodel

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// tmpPrefix is the start of the name of Export's temporary folder for dir
// in process pid: <dir>.tmp-<pid>- (then a random number).
func tmpPrefix(dir string, pid int) string {
	return filepath.Base(dir) + ".tmp-" + strconv.Itoa(pid) + "-"
}

// removeStale removes the temporary folders of dir (<dir>.tmp-<pid>-<n>)
// whose process no longer runs: exports killed before they finished. A
// folder of a running process (another export, or an unrelated process
// that now has the pid) is left alone; errors are ignored, as the folders
// are only litter.
func removeStale(dir string) {
	prefix := filepath.Base(dir) + ".tmp-"
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, num, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || !digits(num) || pid == os.Getpid() || running(pid) {
			continue
		}
		os.RemoveAll(filepath.Join(filepath.Dir(dir), e.Name()))
	}
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// running reports whether a process with this pid exists (also one of
// another user, which signal 0 may not reach).
func running(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	defer p.Release()
	err = p.Signal(syscall.Signal(0))
	return !(errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH))
}
