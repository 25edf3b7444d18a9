package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/testutil"
)

// killConfig is the small 8-bit QAT CNN, 60 steps of 32 images.
var killConfig = smallCNNConfig(3, 32, 60)

// buildQat builds the qat binary into a temporary folder (with the cgo
// environment the test runs in).
func buildQat(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "qat")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestTrainKillResume kills `qat train` with SIGKILL at steps drawn from a
// seeded RNG, several times, resuming each time with --resume, and checks
// that the final weights, ranges, losses and test metrics equal those of
// a run that was never stopped, bit for bit. A temporary folder left by a
// crash in the middle of writing a checkpoint is ignored and cleaned up.
func TestTrainKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the qat binary and runs it several times")
	}
	bin := buildQat(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cnn.yaml")
	write(t, cfg, killConfig)
	args := func(out string) []string {
		return []string{"train", "--config", cfg, "--checkpoint-every", "5", "--threads", "1", "--log-every", "1", "--out", out}
	}
	ref := filepath.Join(dir, "ref")
	if out, err := exec.Command(bin, args(ref)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}

	run := filepath.Join(dir, "run")
	// QAT_KILL_SEED picks other kill steps (for stress runs).
	seed := uint64(2026)
	if s := os.Getenv("QAT_KILL_SEED"); s != "" {
		if _, err := fmt.Sscan(s, &seed); err != nil {
			t.Fatalf("QAT_KILL_SEED=%q: %v", s, err)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	k := 1 + rng.IntN(10)
	for round := 1; round <= 4; round++ {
		if round == 3 {
			k -= k % 5 // just before a checkpoint is written
		}
		before := listCheckpoints(t, run)
		stderr, killed := killAfter(t, bin, append(args(run), "--resume"), k)
		if !killed {
			t.Fatalf("round %d: the run ended before step %d; stderr:\n%s", round, k, stderr)
		}
		if len(before) == 0 && !strings.Contains(stderr, "no checkpoint in "+filepath.Join(run, "checkpoints")+"; starting from step 1") {
			t.Errorf("round %d stderr does not say it starts afresh:\n%s", round, stderr)
		}
		if len(before) > 0 && !strings.Contains(stderr, "qat: resuming from "+filepath.Join(run, "checkpoints", before[0])) {
			t.Errorf("round %d stderr does not say it resumed from %s:\n%s", round, before[0], stderr)
		}
		if strings.Contains(stderr, "warning") {
			t.Errorf("round %d: %s", round, stderr)
		}
		tmps, _ := filepath.Glob(filepath.Join(run, "checkpoints", ".tmp-ckpt-*"))
		t.Logf("round %d: killed after step %d; checkpoints %v, temporary folders %d", round, k, listCheckpoints(t, run), len(tmps))
		k += 6 + rng.IntN(8)
	}
	// A crash while a checkpoint was being written leaves a temporary
	// folder with a half-written bundle.
	cks := listCheckpoints(t, run)
	half := filepath.Join(run, "checkpoints", ".tmp-ckpt-999")
	if err := os.Mkdir(half, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ckpt.index", "ckpt.data-00000-of-00001"} {
		b, err := os.ReadFile(filepath.Join(run, "checkpoints", cks[0], name))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(half, name), string(b[:len(b)/3]))
	}
	out, err := exec.Command(bin, append(args(run), "--resume")...).CombinedOutput()
	if err != nil {
		t.Fatalf("final resume: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "qat: resuming from "+filepath.Join(run, "checkpoints", cks[0])) || strings.Contains(string(out), "warning") {
		t.Errorf("final resume output:\n%s", out)
	}
	if _, err := os.Stat(half); !os.IsNotExist(err) {
		t.Errorf("the half-written %s is still there", half)
	}
	sameRun(t, ref, run)
}

// killAfter runs bin with args, reads its stderr until it reports step k
// and kills it with SIGKILL. It returns the stderr read and whether the
// process died of the signal.
func killAfter(t *testing.T, bin string, args []string, k int) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen bytes.Buffer
	sc := bufio.NewScanner(pipe)
	want := fmt.Sprintf("step %d/", k)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), want) {
			cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	io.Copy(&seen, pipe)
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	killed := err != nil && ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
	return seen.String(), killed
}

// listCheckpoints lists the checkpoint folders of an output folder,
// newest first.
func listCheckpoints(t *testing.T, run string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(run, "checkpoints"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "ckpt-") {
			names = append([]string{e.Name()}, names...) // newest first
		}
	}
	return names
}

// sameRun checks that two output folders hold the same weights, ranges
// (bit for bit), losses, sampled ranges and metrics.
func sameRun(t *testing.T, want, got string) {
	t.Helper()
	for _, name := range []string{"weights.npz", "ranges.npz"} {
		a, err := data.ReadNPZ(filepath.Join(want, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := data.ReadNPZ(filepath.Join(got, name))
		if err != nil {
			t.Fatal(err)
		}
		if (name == "weights.npz" && len(a) == 0) || !reflect.DeepEqual(data.Weights(a).Names(), data.Weights(b).Names()) {
			t.Fatalf("%s: arrays %v and %v", name, data.Weights(a).Names(), data.Weights(b).Names())
		}
		for key, x := range a {
			y := b[key]
			if !reflect.DeepEqual(x.Shape, y.Shape) {
				t.Fatalf("%s: %s has shape %v and %v", name, key, x.Shape, y.Shape)
			}
			for i := range x.Data {
				if math.Float32bits(x.Data[i]) != math.Float32bits(y.Data[i]) {
					t.Fatalf("%s: %s[%d] is %v uninterrupted, %v resumed", name, key, i, x.Data[i], y.Data[i])
				}
			}
		}
	}
	for _, name := range []string{"losses.csv", "ranges.csv", "metrics.json"} {
		a, errA := os.ReadFile(filepath.Join(want, name))
		b, errB := os.ReadFile(filepath.Join(got, name))
		if _, err := os.Stat(filepath.Join(want, name)); os.IsNotExist(err) && name == "metrics.json" {
			continue
		}
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs (%v, %v):\n%s\n---\n%s", name, errA, errB, a, b)
		}
	}
}

// checkpointRun trains example 3 for 20 steps with a checkpoint every 5
// (kept: 10, 15, 20) into a new folder and returns it.
func checkpointRun(t *testing.T, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "run")
	args := append([]string{"train", "--example", "3", "--steps", "20", "--checkpoint-every", "5", "--out", out}, extra...)
	if code, stdout, stderr := qat(t, context.Background(), args...); code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	return out
}

// A truncated newest checkpoint is skipped with a warning naming its file;
// training resumes from the one before (which stays) and ends as an
// uninterrupted run.
func TestTrainResumeSkipsCorrupt(t *testing.T) {
	ref := checkpointRun(t)
	run := checkpointRun(t)
	if got := listCheckpoints(t, run); !reflect.DeepEqual(got, []string{"ckpt-000000020", "ckpt-000000015", "ckpt-000000010"}) {
		t.Fatalf("checkpoints %v", got)
	}
	ck := filepath.Join(run, "checkpoints")
	data := filepath.Join(ck, "ckpt-000000020", "ckpt.data-00000-of-00001")
	truncateFile(t, data)
	code, _, stderr := qat(t, context.Background(), "train", "--example", "3", "--steps", "20", "--out", run, "--resume")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"qat: warning: skipped a bad checkpoint: checkpoint " + filepath.Join(ck, "ckpt-000000020") + ": " + data + " is truncated or corrupt",
		"qat: resuming from " + filepath.Join(ck, "ckpt-000000015") + " (step 15 of 20)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q\nlacks %q", stderr, want)
		}
	}
	if got := listCheckpoints(t, run); !reflect.DeepEqual(got, []string{"ckpt-000000020", "ckpt-000000015", "ckpt-000000010"}) {
		t.Errorf("checkpoints after resuming %v", got)
	}
	sameRun(t, ref, run)
}

// A run without --resume into a folder with checkpoints says it replaces
// them, and does once it has written its first.
func TestTrainFreshRunReplacesCheckpoints(t *testing.T) {
	run := checkpointRun(t)
	code, _, stderr := qat(t, context.Background(), "train", "--example", "3", "--steps", "7", "--checkpoint-every", "5", "--out", run)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "qat: note: " + filepath.Join(run, "checkpoints") + " holds checkpoints of an earlier run (newest: step 20); this run replaces them"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q\nlacks %q", stderr, want)
	}
	if got := listCheckpoints(t, run); !reflect.DeepEqual(got, []string{"ckpt-000000007", "ckpt-000000005"}) {
		t.Errorf("checkpoints %v, want [ckpt-000000007 ckpt-000000005]", got)
	}
}

func truncateFile(t *testing.T, path string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, info.Size()/2); err != nil {
		t.Fatal(err)
	}
}

func TestTrainResumeErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("all corrupt", func(t *testing.T) {
		run := checkpointRun(t)
		ck := filepath.Join(run, "checkpoints")
		names := listCheckpoints(t, run)
		for _, n := range names {
			truncateFile(t, filepath.Join(ck, n, "ckpt.index"))
		}
		code, _, stderr := qat(t, ctx, "train", "--example", "3", "--steps", "20", "--out", run, "--resume")
		if want := "qat: none of the 3 checkpoints in " + ck + " can be restored:\ncheckpoint " + filepath.Join(ck, names[0]) + ": " +
			filepath.Join(ck, names[0], "ckpt.index") + " is truncated or corrupt"; code != 1 || !strings.HasPrefix(stderr, want) {
			t.Errorf("exit %d, stderr %q\nwant it to start %q", code, stderr, want)
		}
		if got := listCheckpoints(t, run); !reflect.DeepEqual(got, names) {
			t.Errorf("checkpoints %v after a failed resume, want %v", got, names)
		}
	})
	t.Run("another model", func(t *testing.T) {
		run := checkpointRun(t)
		ck := filepath.Join(run, "checkpoints")
		code, _, stderr := qat(t, ctx, "train", "--example", "2", "--steps", "20", "--out", run, "--resume")
		if want := "checkpoint " + filepath.Join(ck, "ckpt-000000020") + ": it is of another model: it has 6 variable(s) this model lacks (layer2/weight_fp, "; code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr %q\nwant %q", code, stderr, want)
		}
	})
	t.Run("past the steps", func(t *testing.T) {
		run := checkpointRun(t)
		code, _, stderr := qat(t, ctx, "train", "--example", "3", "--steps", "10", "--out", run, "--resume")
		if want := "qat: checkpoint " + filepath.Join(run, "checkpoints", "ckpt-000000020") + " is at step 20, past this run's 10 steps"; code != 1 || !strings.HasPrefix(stderr, want) {
			t.Errorf("exit %d, stderr %q\nwant %q", code, stderr, want)
		}
	})
	for _, which := range []string{"out", "checkpoints"} {
		t.Run("read-only "+which, func(t *testing.T) {
			run := checkpointRun(t)
			dir := run
			if which == "checkpoints" {
				dir = filepath.Join(run, "checkpoints")
			}
			testutil.ReadOnly(t, dir)
			code, stdout, stderr := qat(t, ctx, "train", "--example", "3", "--steps", "30", "--out", run, "--resume")
			if want := "qat: output folder " + dir + " is not writable: "; code != 1 || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q\nwant one line starting %q", code, stderr, want)
			}
			if stdout != "" {
				t.Errorf("stdout %q: training started", stdout)
			}
			if got := listCheckpoints(t, run); len(got) != 3 {
				t.Errorf("checkpoints %v", got)
			}
		})
	}
}
