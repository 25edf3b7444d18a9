package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qat-go/qat/data"
)

// TestTrainDataParallel trains the MNIST QAT CNN (configs/mnist_cnn_qat8.yaml,
// global batch 64) for 50 steps on a real loopback cluster of separate
// processes (a ps and two workers running `qat worker`, and `qat train`
// as the chief from TF_CONFIG) and compares it with `qat train` in one
// process. Then it kills worker 1 (SIGKILL) in the middle of a second
// cluster run, checks the chief's error, restarts the worker, resumes, and
// checks that the resumed run ends bit for bit as the uninterrupted
// cluster run.
func TestTrainDataParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the qat binary and starts a cluster")
	}
	bin := buildQat(t)
	dir := t.TempDir()
	p := freePorts(t, 4)
	spec := fmt.Sprintf(`"cluster": {"chief": ["localhost:%d"], "ps": ["localhost:%d"], "worker": ["localhost:%d", "localhost:%d"]}`, p[0], p[1], p[2], p[3])
	tfConfig := func(typ string, i int) string {
		return fmt.Sprintf(`{%s, "task": {"type": %q, "index": %d}}`, spec, typ, i)
	}
	startWorker(t, bin, tfConfig("ps", 0))
	startWorker(t, bin, tfConfig("worker", 0))
	w1 := startWorker(t, bin, tfConfig("worker", 1))
	env := func(chief bool) []string {
		var e []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "TF_CONFIG=") {
				e = append(e, kv)
			}
		}
		if chief {
			e = append(e, "TF_CONFIG="+tfConfig("chief", 0))
		}
		return e
	}
	train := func(out string, chief bool, extra ...string) *exec.Cmd {
		args := append([]string{"train", "--config", filepath.Join("..", "..", "configs", "mnist_cnn_qat8.yaml"),
			"--steps", "50", "--checkpoint-every", "10", "--log-every", "5", "--out", out}, extra...)
		c := exec.Command(bin, args...)
		c.Env = env(chief)
		return c
	}
	single, cl := filepath.Join(dir, "single"), filepath.Join(dir, "cluster")
	for _, r := range []struct {
		out   string
		chief bool
	}{{single, false}, {cl, true}} {
		start := time.Now()
		out, err := train(r.out, r.chief).CombinedOutput()
		if err != nil {
			t.Fatalf("qat train (chief %v): %v\n%s", r.chief, err, out)
		}
		t.Logf("qat train (cluster %v): %.1f s", r.chief, time.Since(start).Seconds())
		if r.chief && !strings.Contains(string(out), "data-parallel as /job:chief/task:0 (from TF_CONFIG): 2 worker replica(s) of 32 rows each, variables on [/job:ps/task:0]") {
			t.Errorf("the chief does not say it trains data-parallel:\n%s", out)
		}
	}
	compareDataParallel(t, single, cl)

	// Worker 1 dies during a second cluster run.
	killed := filepath.Join(dir, "killed")
	chief := train(killed, true)
	stderr, err := chief.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := chief.Start(); err != nil {
		t.Fatal(err)
	}
	var said strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		said.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "step 20/50") {
			w1.cmd.Process.Signal(syscall.SIGKILL)
			w1.cmd.Wait()
			t.Log("worker 1 killed after step 20")
		}
	}
	err = chief.Wait()
	msg := said.String()
	if err == nil || !strings.Contains(msg, "/job:worker/replica:0/task:1") || !strings.Contains(msg, "continue with --resume") {
		t.Fatalf("chief with worker 1 killed: %v, want an error naming /job:worker/replica:0/task:1 and --resume; stderr:\n%s", err, msg)
	}
	for _, l := range strings.Split(msg, "\n") {
		if strings.HasPrefix(l, "qat: data-parallel") {
			t.Logf("the chief said: %.300s", l)
		}
	}
	ckpts := listCheckpoints(t, killed)
	if len(ckpts) == 0 || ckpts[0] < "ckpt-000000020" {
		t.Fatalf("checkpoints after the kill: %v, want the step-20 one at least", ckpts)
	}
	t.Logf("checkpoints after the kill: %v", ckpts)
	startWorker(t, bin, tfConfig("worker", 1))
	if out, err := train(killed, true, "--resume").CombinedOutput(); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	sameRun(t, cl, killed)
}

// compareDataParallel checks a cluster run against a one-process run of
// the same global batch: the losses and the activation ranges bit for bit;
// each weight within 1e-5 of its tensor's largest magnitude, and the
// weight ranges within 1e-5 relative. (The weight gradients are sums over
// the batch, which the cluster adds as two partial sums of 32 rows: their
// last bits differ, and so do the weights'.)
func compareDataParallel(t *testing.T, single, cl string) {
	t.Helper()
	a, b := readLosses(t, filepath.Join(single, "losses.csv")), readLosses(t, filepath.Join(cl, "losses.csv"))
	if len(a) != 50 || len(b) != 50 {
		t.Fatalf("losses: %d and %d steps, want 50", len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Errorf("step %d: loss %v in one process, %v on the cluster", i+1, a[i], b[i])
		}
	}
	for _, name := range []string{"weights.npz", "ranges.npz"} {
		x, y := readBoth(t, single, cl, name)
		for key, xa := range x {
			ya, ok := y[key]
			if !ok || len(ya.Data) != len(xa.Data) {
				t.Fatalf("%s: %s missing or of another size on the cluster", name, key)
			}
			var big, worst float64
			diff := 0
			for i, v := range xa.Data {
				big = math.Max(big, math.Abs(float64(v)))
				if v != ya.Data[i] {
					diff++
				}
			}
			for i, v := range xa.Data {
				d := math.Abs(float64(v - ya.Data[i]))
				switch {
				case name == "weights.npz":
					d /= big
				case !strings.Contains(key, "kernel"):
					if d != 0 {
						t.Errorf("%s[%d]: %v in one process, %v on the cluster; activation ranges must be equal", key, i, v, ya.Data[i])
					}
				default:
					d /= math.Max(math.Abs(float64(v)), 1e-30)
				}
				worst = math.Max(worst, d)
			}
			if worst > 1e-5 {
				t.Errorf("%s: %s differs by %.3g (relative), over 1e-5", name, key, worst)
			}
			if diff > 0 {
				t.Logf("%s: %s: %d of %d values differ, by at most %.3g relative", name, key, diff, len(xa.Data), worst)
			}
		}
	}
}

// TestTrainClusterErrors checks that `qat train` refuses a cluster it
// cannot train on as the chief, with a clear message, before it starts a
// server or writes anything.
func TestTrainClusterErrors(t *testing.T) {
	const cnn = `{"cluster": {"chief": ["localhost:1"], "worker": ["localhost:2", "localhost:3", "localhost:4"]}, "task": {"type": %q, "index": 0}}`
	for _, c := range []struct {
		name, tfConfig string
		args           []string
		want           string
	}{
		{"worker task", fmt.Sprintf(cnn, "worker"), nil, "TF_CONFIG says this task is /job:worker/task:0: qat train runs as the chief"},
		{"ps task", "", []string{"--cluster", "ps=localhost:1;worker=localhost:2", "--job", "ps", "--task", "0"}, "a ps task runs `qat worker`"},
		{"no workers", `{"cluster": {"chief": ["localhost:1"], "ps": ["localhost:2"]}, "task": {"type": "chief", "index": 0}}`, nil, `the cluster has no "worker" tasks to train on`},
		{"uneven batch", fmt.Sprintf(cnn, "chief"), nil, "the global batch of 64 rows does not split evenly over 3 workers"},
		{"malformed", `{"cluster":`, nil, "TF_CONFIG is not valid JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TF_CONFIG", c.tfConfig)
			if c.tfConfig == "" {
				os.Unsetenv("TF_CONFIG")
			}
			out := filepath.Join(t.TempDir(), "run")
			args := append([]string{"train", "--config", filepath.Join("..", "..", "configs", "mnist_cnn_qat8.yaml"), "--out", out}, c.args...)
			var stdout, stderr strings.Builder
			code := run(t.Context(), args, &stdout, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("exit code %d, stderr %q; want 1 and %q", code, stderr.String(), c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s exists after the error", out)
			}
		})
	}
}

// readBoth reads the npz file name of the one-process run single and of
// the cluster run cl, which must hold as many arrays, at least one.
func readBoth(t *testing.T, single, cl, name string) (x, y map[string]data.Array) {
	t.Helper()
	x, err := data.ReadNPZ(filepath.Join(single, name))
	if err != nil {
		t.Fatal(err)
	}
	y, err = data.ReadNPZ(filepath.Join(cl, name))
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != len(y) || len(x) == 0 {
		t.Fatalf("%s: %d and %d arrays", name, len(x), len(y))
	}
	return x, y
}
