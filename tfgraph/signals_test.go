package tfgraph_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
	"golang.org/x/sys/unix"
)

// TestTensorFlowThreadsBlockSIGPROF checks that every thread TensorFlow
// started while a graph was made and a session opened and ran blocks
// SIGPROF, and that the caller's mask is as it was.
func TestTensorFlowThreadsBlockSIGPROF(t *testing.T) {
	runtime.LockOSThread() // so that thread-self below is the thread that opened the session
	defer runtime.UnlockOSThread()
	g := tfgraph.NewGraph()
	c := g.Const("c", float32(2))
	sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 2, InterOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, []tf.Output{c}, nil); err != nil {
		t.Fatal(err)
	}
	bit := uint64(1) << (unix.SIGPROF - 1)
	tasks, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		t.Fatal(err)
	}
	var tfThreads, goBlocked int
	for _, task := range tasks {
		comm, err1 := os.ReadFile(filepath.Join(task, "comm"))
		status, err2 := os.ReadFile(filepath.Join(task, "status"))
		if err1 != nil || err2 != nil {
			continue // the thread has exited
		}
		name := strings.TrimSpace(string(comm))
		blocked := sigBlk(t, string(status))&bit != 0
		switch {
		case strings.HasPrefix(name, "tf_"):
			tfThreads++
			if !blocked {
				t.Errorf("TensorFlow thread %s (%s) takes SIGPROF", name, filepath.Base(task))
			}
		case blocked:
			goBlocked++
		}
	}
	if tfThreads == 0 {
		t.Fatal("found no tf_* threads to check")
	}
	t.Logf("%d tf_* threads block SIGPROF; %d other threads block it", tfThreads, goBlocked)
	own, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	if sigBlk(t, string(own))&bit != 0 {
		t.Error("the calling goroutine's thread was left with SIGPROF blocked")
	}
}

func sigBlk(t *testing.T, status string) uint64 {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "SigBlk:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("SigBlk %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatal("no SigBlk line in /proc status")
	return 0
}
