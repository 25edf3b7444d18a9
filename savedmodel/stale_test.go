package savedmodel_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/savedmodel"
)

// umask returns the process's umask.
func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

// TestExportRemovesStale checks that Export removes the temporary folders
// of its target left by a dead process (<dir>.tmp-<pid>-<n>) and keeps
// those of live processes, of other targets and of other name forms; and
// that the SavedModel's files are 0644 and its folders 0755 less the
// umask.
func TestExportRemovesStale(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "sm")
	mk := func(name string) string {
		p := filepath.Join(parent, name)
		if err := os.MkdirAll(filepath.Join(p, "variables"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "saved_model.pb"), []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := mk(fmt.Sprintf("sm.tmp-%d-123", dead.Process.Pid))
	keep := []string{
		mk(fmt.Sprintf("sm.tmp-%d-5", os.Getppid())),        // a live process
		mk(fmt.Sprintf("other.tmp-%d-7", dead.Process.Pid)), // another target
		mk("sm.tmp-12345"), // not qat's form
	}
	m, err := models.Example(1)
	if err != nil {
		t.Fatal(err)
	}
	w, r := untrained(t, m)
	if err := savedmodel.Export(dir, m, w, r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale folder %s of a dead process is still there (%v)", stale, err)
	}
	for _, p := range keep {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	mask := umask()
	for _, p := range listing(t, dir) {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := 0o644 &^ mask
		if info.IsDir() {
			want = 0o755 &^ mask
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v (umask %03o)", p, info.Mode().Perm(), want, mask)
		}
	}
}

// TestExportKilled kills a process with SIGKILL while it exports (once
// its temporary folder exists) and checks that the next Export to the
// same folder removes what it left.
func TestExportKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs subprocesses")
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "sm")
	var left []string
	for try := 0; try < 10 && len(left) == 0; try++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExportHelper$")
		cmd.Env = append(os.Environ(), "QAT_EXPORT_HELPER="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() && sc.Text() != "exporting" {
		}
		prefix := fmt.Sprintf("sm.tmp-%d-", cmd.Process.Pid)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if m, _ := filepath.Glob(filepath.Join(parent, prefix+"*")); len(m) > 0 {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
			if _, err := os.Stat(dir); err == nil {
				break // finished before we saw its folder
			}
			time.Sleep(200 * time.Microsecond)
		}
		cmd.Wait()
		os.RemoveAll(dir)
		left, _ = filepath.Glob(filepath.Join(parent, prefix+"*"))
	}
	if len(left) == 0 {
		t.Skip("no export was caught in the middle in 10 tries")
	}
	t.Logf("a killed export left %v", left)
	m, w, r := helperModel(t)
	if err := savedmodel.Export(dir, m, w, r); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "sm" {
			t.Errorf("left in %s: %s", parent, e.Name())
		}
	}
}

// helperModel is a model big enough that writing it takes a while.
func helperModel(t *testing.T) (models.Model, data.Weights, data.Weights) {
	t.Helper()
	cfg, err := models.ParseConfig(strings.NewReader("inputs: 2000\nlayers:\n  - {name: a, units: 2000}\n  - {name: b, units: 2000}\n  - {name: c, units: 10}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Model()
	if err != nil {
		t.Fatal(err)
	}
	w, r := untrained(t, m)
	return m, w, r
}

// TestExportHelper is the subprocess of TestExportKilled.
func TestExportHelper(t *testing.T) {
	dir := os.Getenv("QAT_EXPORT_HELPER")
	if dir == "" {
		t.Skip("only a subprocess of TestExportKilled")
	}
	m, w, r := helperModel(t)
	fmt.Println("exporting")
	if err := savedmodel.Export(dir, m, w, r); err != nil {
		t.Fatal(err)
	}
}
