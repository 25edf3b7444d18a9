package tfgraph

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	cpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// oneTask is the ServerDef of a one-task cluster, job worker, at addr,
// with one thread per pool: a server's thread settings reach the whole
// process (see NewServer), and the gradient tests expect one thread.
func oneTask(addr string) *cpb.ServerDef {
	return &cpb.ServerDef{
		Cluster:              &cpb.ClusterDef{Job: []*cpb.JobDef{{Name: "worker", Tasks: map[int32]string{0: addr}}}},
		JobName:              "worker",
		Protocol:             "grpc",
		DefaultSessionConfig: &cpb.ConfigProto{IntraOpParallelismThreads: 1, InterOpParallelismThreads: 1},
	}
}

func TestNewServerErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyAddr := "localhost:" + strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	free := "localhost:" + strconv.Itoa(freePort(t))
	noCluster := oneTask(free)
	noCluster.Cluster = nil
	otherTask := oneTask(free)
	otherTask.TaskIndex = 3
	badProto := oneTask(free)
	badProto.Protocol = "carrier-pigeon"
	for _, c := range []struct {
		name string
		def  *cpb.ServerDef
		want []string
	}{
		{"nil", nil, []string{"ServerDef is nil"}},
		{"no cluster", noCluster, []string{"/job:worker/task:0", "has no cluster"}},
		{"task not in cluster", otherTask, []string{"/job:worker/task:3", "no address for this task"}},
		{"port in use", oneTask(busyAddr), []string{"/job:worker/task:0 at " + busyAddr, "cannot listen on the port"}},
		{"no port", oneTask("localhost"), []string{"at localhost:", "Could not parse port"}},
		{"unknown protocol", badProto, []string{"No server factory"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := NewServer(c.def)
			if err == nil {
				s.Close()
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestServerCloseUnstarted checks that closing a server that never
// started gives its port back, and that Stop and Close may repeat.
func TestServerCloseUnstarted(t *testing.T) {
	addr := "localhost:" + strconv.Itoa(freePort(t))
	s, err := NewServer(oneTask(addr))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "start after close") {
		t.Errorf("start after close: %v", err)
	}
	if err := s.Join(); err != nil {
		t.Errorf("join after close: %v", err)
	}
	again, err := NewServer(oneTask(addr))
	if err != nil {
		t.Fatalf("port not given back: %v", err)
	}
	again.Close()
}

// TestServerSession runs a variable update through a started server's
// gRPC target, the op placed on the server's task by device.
func TestServerSession(t *testing.T) {
	port := freePort(t)
	s, err := NewServer(oneTask("localhost:" + strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := s.Target(), "grpc://localhost:"+strconv.Itoa(port); got != want {
		t.Fatalf("target %q, want %q", got, want)
	}
	got, err := addOnTask(s.Target(), "/job:worker/task:0")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[11 22]" {
		t.Errorf("value %v, want [11 22]", got)
	}
	// A started server cannot be stopped (TensorFlow's gRPC server has no
	// clean shutdown); Stop and Close leave it serving, without error.
	for range 2 {
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := addOnTask(s.Target(), "/job:worker/task:0"); err != nil || fmt.Sprint(got) != "[11 22]" {
		t.Errorf("after Close: %v, %v", got, err)
	}
}

// addOnTask builds a variable [1 2] on device, adds [10 20] to it in a
// session on target and returns the value read back.
func addOnTask(target, device string) ([]float32, error) {
	g := NewGraph().WithDevice(device)
	init, err := NewTensor([]int64{2}, []float32{1, 2})
	if err != nil {
		return nil, err
	}
	v := g.NewVariable("v", init)
	add := v.AssignAdd(g, "add", g.Const("delta", []float32{10, 20}))
	read := v.Read(g.WithControlDependencies(add), "read")
	if v.Handle.Op.Device() != device || read.Op.Device() != device {
		return nil, fmt.Errorf("placed on %q and %q, want %q", v.Handle.Op.Device(), read.Op.Device(), device)
	}
	sess, err := NewSession(g, SessionConfig{Target: target, IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		return nil, err
	}
	res, err := sess.Run(nil, []tf.Output{read}, nil)
	if err != nil {
		return nil, err
	}
	return Float32s(res[0])
}

// ExampleNewServer starts a one-task cluster in this process and runs a
// variable update on its task through the server's gRPC target.
func ExampleNewServer() {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := "localhost:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	s, err := NewServer(&cpb.ServerDef{
		Cluster:  &cpb.ClusterDef{Job: []*cpb.JobDef{{Name: "worker", Tasks: map[int32]string{0: addr}}}},
		JobName:  "worker",
		Protocol: "grpc",
		// The task's devices run ops on one thread each (see NewServer).
		DefaultSessionConfig: &cpb.ConfigProto{IntraOpParallelismThreads: 1, InterOpParallelismThreads: 1},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(s.Target(), "grpc://"))
	v, err := addOnTask(s.Target(), "/job:worker/task:0")
	fmt.Println(v, err)
	// Output:
	// true
	// [11 22] <nil>
}
