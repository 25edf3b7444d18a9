package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// workerProc is a `qat worker` process of a test cluster.
type workerProc struct {
	cmd    *exec.Cmd
	stderr strings.Builder
}

// startWorker starts `qat worker` with TF_CONFIG tfConfig and waits until
// it says it serves its task.
func startWorker(t *testing.T, bin, tfConfig string) *workerProc {
	t.Helper()
	w := &workerProc{cmd: exec.Command(bin, "worker")}
	w.cmd.Env = append(os.Environ(), "TF_CONFIG="+tfConfig)
	w.cmd.Stderr = &w.stderr
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			w.cmd.Process.Kill()
			w.cmd.Wait()
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		line <- sc.Text()
		io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		if !strings.HasPrefix(l, "serving /job:") {
			w.cmd.Wait()
			t.Fatalf("qat worker said %q; stderr:\n%s", l, w.stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("qat worker did not start; stderr:\n%s", w.stderr.String())
	}
	return w
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// TestWorkerCluster starts a cluster of three `qat worker` processes on
// loopback (a ps and two workers, from TF_CONFIG) and runs a graph on it
// from Go through worker 0's gRPC target: a variable on the ps, updated
// with a product computed on worker 1. Python TensorFlow reads the
// variable from the same cluster. Then worker 1 is killed (SIGKILL): the
// next step fails with an error naming it and the ps still holds the
// variable; worker 1 started again, the steps go on from that value.
// The other tasks stop on SIGTERM with exit code 143.
func TestWorkerCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the qat binary and starts a cluster")
	}
	bin := buildQat(t)
	p := freePorts(t, 3)
	spec := fmt.Sprintf(`"cluster": {"ps": ["localhost:%d"], "worker": ["localhost:%d", "localhost:%d"]}`, p[0], p[1], p[2])
	tfConfig := func(typ string, i int) string {
		return fmt.Sprintf(`{%s, "task": {"type": %q, "index": %d}}`, spec, typ, i)
	}
	ps := startWorker(t, bin, tfConfig("ps", 0))
	w0 := startWorker(t, bin, tfConfig("worker", 0))
	w1 := startWorker(t, bin, tfConfig("worker", 1))
	target := fmt.Sprintf("grpc://localhost:%d", p[1])
	t.Logf("cluster started: %s", spec)

	g := tfgraph.NewGraph()
	onPS := g.WithDevice("/job:ps/task:0")
	init, err := tfgraph.NewTensor([]int64{3}, []float32{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	v := onPS.NewVariable("v", init)
	onW1 := g.WithDevice("/job:worker/task:1")
	twice := onW1.Op1("Mul", "twice", []any{v.Read(onW1, "read"), onW1.Const("two", float32(2))}, nil)
	step := v.AssignAdd(onPS, "step", twice) // v += 2v, the product made on worker 1
	read := v.Read(onPS, "value")
	sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{Target: target, IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := sess.Run(nil, nil, []*tf.Operation{step}); err != nil {
			t.Fatal(err)
		}
	}
	value := func() string {
		res, err := sess.Run(nil, []tf.Output{read}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res[0].Value())
	}
	if got := value(); got != "[9 18 27]" {
		t.Fatalf("v after 2 steps of v += 2v from [1 2 3]: %s, want [9 18 27]", got)
	}

	t.Log("Go steps done")
	out, err := oracle.Run("cluster_read.py", target, "/job:ps/task:0", "v", "3")
	if err != nil {
		t.Fatal(err)
	}
	var py struct {
		Value    []float32 `json:"value"`
		TimesTen []float32 `json:"times_ten"`
		Devices  []string  `json:"devices"`
	}
	if err := json.Unmarshal(out, &py); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if fmt.Sprint(py.Value) != "[9 18 27]" || fmt.Sprint(py.TimesTen) != "[90 180 270]" {
		t.Errorf("Python read %v and %v, want [9 18 27] and [90 180 270]", py.Value, py.TimesTen)
	}
	for _, d := range []string{"/job:ps/replica:0/task:0/device:CPU:0", "/job:worker/replica:0/task:0/device:CPU:0", "/job:worker/replica:0/task:1/device:CPU:0"} {
		if !strings.Contains(strings.Join(py.Devices, " "), d) {
			t.Errorf("Python's session lists devices %v, without %s", py.Devices, d)
		}
	}

	// Worker 1 dies: the step that needs it fails, naming it.
	t.Log("Python read done")
	w1.cmd.Process.Signal(syscall.SIGKILL)
	w1.cmd.Wait()
	t.Log("worker 1 killed")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := sess.Run(nil, nil, []*tf.Operation{step})
		done <- err
	}()
	select {
	case err := <-done:
		t.Logf("step with worker 1 dead: %v", err)
		if err == nil || !strings.Contains(err.Error(), "/job:worker/replica:0/task:1") {
			t.Errorf("step with worker 1 dead: error %v, want one naming /job:worker/replica:0/task:1", err)
		}
	case <-ctx.Done():
		t.Fatal("step with worker 1 dead: no answer in 3 minutes")
	}
	if got := value(); got != "[9 18 27]" {
		t.Errorf("v on the ps after the failed step: %s, want [9 18 27]", got)
	}

	// Worker 1 back on its port: the old session cannot go on (TensorFlow:
	// "Session handle is not found ... just restarted"), so it is closed
	// and a new one opened on the same graph; without running the
	// initializer again it steps from the value the ps kept: v += 2v.
	startWorker(t, bin, tfConfig("worker", 1))
	closed := make(chan error, 1)
	go func() { closed <- sess.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("close session: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("closing the session after worker 1's restart: no answer in a minute")
	}
	sess, err = tfgraph.NewSession(g, tfgraph.SessionConfig{Target: target, IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	tries := 0
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		tries++
		// gRPC waits between attempts to reconnect, so the first tries may fail.
		if _, err = sess.Run(nil, nil, []*tf.Operation{step}); err == nil || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("step in a new session with worker 1 back: %d tries, error %v", tries, err)
	if err != nil {
		t.Fatalf("step with worker 1 back: %v", err)
	}
	if got := value(); got != "[27 54 81]" {
		t.Errorf("v after a third step: %s, want [27 54 81]", got)
	}
	if err := sess.Close(); err != nil {
		t.Errorf("close session: %v", err)
	}

	for _, w := range []*workerProc{w0, ps} {
		w.cmd.Process.Signal(syscall.SIGTERM)
		w.cmd.Wait()
		if code := w.cmd.ProcessState.ExitCode(); code != 143 {
			t.Errorf("exit code %d after SIGTERM, want 143; stderr:\n%s", code, w.stderr.String())
		}
	}
}

// TestWorkerErrors checks that `qat worker` refuses a bad task
// description with a clear message and exit code 1.
func TestWorkerErrors(t *testing.T) {
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	for _, c := range []struct {
		name, tfConfig string
		args           []string
		want           string
	}{
		{"nothing", "", nil, "qat: no cluster: set TF_CONFIG or give --cluster, --job and --task"},
		{"malformed TF_CONFIG", `{"cluster":`, nil, "qat: TF_CONFIG is not valid JSON: unexpected end of JSON input"},
		{"index out of range", `{"cluster":{"worker":["localhost:1"]},"task":{"type":"worker","index":1}}`, nil, `index 1 is out of range: job "worker" has 1 task(s)`},
		{"both", `{"cluster":{"worker":["localhost:1"]},"task":{"type":"worker"}}`, []string{"--job", "worker"}, "both TF_CONFIG and --cluster/--job/--task are given"},
		{"flags apart", "", []string{"--cluster", "worker=localhost:1"}, "--cluster, --job and --task go together"},
		{"port in use", "", []string{"--cluster", fmt.Sprintf("worker=localhost:%d", busyPort), "--job", "worker", "--task", "0"},
			fmt.Sprintf("qat: task /job:worker/task:0: port %d is in use", busyPort)},
		{"threads", "", []string{"--threads", "0"}, "--threads 0: want at least 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TF_CONFIG", c.tfConfig) // restored after the test
			if c.tfConfig == "" {
				os.Unsetenv("TF_CONFIG")
			}
			var stdout, stderr strings.Builder
			code := run(context.Background(), append([]string{"worker"}, c.args...), &stdout, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("exit code %d, stderr %q; want 1 and %q", code, stderr.String(), c.want)
			}
		})
	}
}
