package loop_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
)

// profiledChildEnv makes the test binary train under Go's CPU profiler
// instead of running the tests (see TestMain).
const profiledChildEnv = "QAT_TEST_PROFILED_CHILD"

func TestMain(m *testing.M) {
	if out := os.Getenv(profiledChildEnv); out != "" {
		if err := profiledTraining(out, 5000); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("profiled training ok")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// profiledTraining trains the article's Example 3 for steps steps with
// pprof's CPU profiler on, writing the profile to out, as a Go service
// with net/http/pprof would while it trains.
func profiledTraining(out string, steps int) error {
	m, err := models.Example(3)
	if err != nil {
		return err
	}
	data, err := data.Synthetic(100, int(m.Input[0]), m.Classes(), 1)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	tr, err := loop.NewTrainer(m, data, nil, loop.DefaultConfig())
	if err != nil {
		return err
	}
	defer tr.Close()
	for range steps {
		if _, err := tr.Step(); err != nil {
			return err
		}
	}
	return nil
}

// TestProfiledTrainingDoesNotCrash trains under Go's CPU profiler in
// fresh processes. Before TensorFlow's threads blocked SIGPROF
// (tfgraph.WithProfSignalBlocked), 8 of 10 such runs aborted with glibc
// heap corruption on an AVX-512 machine.
func TestProfiledTrainingDoesNotCrash(t *testing.T) {
	runs := 8
	if testing.Short() {
		runs = 2
	}
	cpu, _ := os.ReadFile("/proc/cpuinfo")
	t.Logf("CPU has AVX-512 (where the crash showed): %v", bytes.Contains(cpu, []byte("avx512f")))
	dir := t.TempDir()
	for i := range runs {
		prof := filepath.Join(dir, fmt.Sprintf("cpu%d.pprof", i))
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), profiledChildEnv+"="+prof)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "profiled training ok") {
			t.Fatalf("run %d of %d: %v\n%s", i+1, runs, err, lastLines(string(out), 15))
		}
		if st, err := os.Stat(prof); err != nil || st.Size() == 0 {
			t.Fatalf("run %d: no CPU profile written: %v", i+1, err)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
