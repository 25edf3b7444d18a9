package tfgraph

// #cgo LDFLAGS: -ltensorflow
// #include <stdlib.h>
// #include "tensorflow/c/c_api.h"
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	cpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// Server is one task of a TensorFlow cluster: the distributed runtime's
// in-process gRPC server (TF_NewServer in TensorFlow's C API), which runs
// the graph pieces placed on its task ("/job:worker/task:1") for any
// session whose target is a server of the same cluster.
//
// TensorFlow cannot shut a started gRPC server down: its Stop returns
// "clean shutdown is not currently implemented" and freeing a started
// server aborts the process. So a started Server serves until its process
// exits; Stop and Close on it are no-ops that return nil, and the process
// that wants the task gone exits (as `qat worker` does on SIGTERM). A
// server that was never started is freed by Close.
type Server struct {
	mu      sync.Mutex
	c       *C.TF_Server
	name    string // "/job:worker/task:1 at localhost:2223", for errors
	started bool
	closed  bool
}

// NewServer creates (but does not start) the server that def describes:
// the cluster, this task's job name and index, the protocol ("grpc") and
// optionally the port and the default session config. TensorFlow binds
// the task's port here, so a port in use fails now.
//
// The server creates its task's devices in this process, sized by
// def.DefaultSessionConfig's thread counts, and that reaches the whole
// process: measured here, after a server with the default (0: every core)
// counts, convolution gradients of one-thread sessions in the same
// process differed in the last bits from TensorFlow's (14 of 125 cases of
// tfgraph's gradient test), and not with counts of 1. Give the counts the
// process's sessions use.
func NewServer(def *cpb.ServerDef) (*Server, error) {
	if def == nil {
		return nil, errors.New("new server: ServerDef is nil")
	}
	name := fmt.Sprintf("/job:%s/task:%d", def.GetJobName(), def.GetTaskIndex())
	if def.GetCluster() == nil || len(def.GetCluster().GetJob()) == 0 {
		return nil, fmt.Errorf("new server %s: the ServerDef has no cluster", name)
	}
	addr := ""
	for _, j := range def.GetCluster().GetJob() {
		if j.GetName() == def.GetJobName() {
			addr = j.GetTasks()[def.GetTaskIndex()]
		}
	}
	if addr == "" {
		return nil, fmt.Errorf("new server %s: the cluster has no address for this task", name)
	}
	if p := def.GetPort(); p != 0 {
		addr = fmt.Sprintf("%s (port %d)", addr, p)
	}
	name += " at " + addr
	b, err := proto.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("new server %s: %w", name, err)
	}
	st := C.TF_NewStatus()
	defer C.TF_DeleteStatus(st)
	var buf unsafe.Pointer
	if len(b) > 0 {
		buf = C.CBytes(b)
		defer C.free(buf)
	}
	var c *C.TF_Server
	WithProfSignalBlocked(func() { c = C.TF_NewServer(buf, C.size_t(len(b)), st) })
	if err := statusErr(st); err != nil {
		if c != nil {
			C.TF_DeleteServer(c)
		}
		if strings.Contains(err.Error(), "Could not start gRPC server") {
			// What TensorFlow says when gRPC cannot bind the port.
			return nil, fmt.Errorf("new server %s: cannot listen on the port (in use by another process?): %w", name, err)
		}
		return nil, fmt.Errorf("new server %s: %w", name, err)
	}
	return &Server{c: c, name: name}, nil
}

// statusErr returns st's message as an error, or nil if st is OK.
func statusErr(st *C.TF_Status) error {
	if C.TF_GetCode(st) == C.TF_OK {
		return nil
	}
	return fmt.Errorf("%s (TensorFlow code %d)", C.GoString(C.TF_Message(st)), int(C.TF_GetCode(st)))
}

// Name returns the task the server runs and its address, e.g.
// "/job:worker/task:1 at localhost:2223".
func (s *Server) Name() string { return s.name }

// Start starts serving. Starting a started server is a no-op.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("server %s: start after close", s.name)
	}
	if s.started {
		return nil
	}
	st := C.TF_NewStatus()
	defer C.TF_DeleteStatus(st)
	C.TF_ServerStart(s.c, st)
	if err := statusErr(st); err != nil {
		return fmt.Errorf("server %s: start: %w", s.name, err)
	}
	s.started = true
	return nil
}

// Target returns the address sessions use to reach this server, e.g.
// "grpc://localhost:2222" (tf.SessionOptions.Target).
func (s *Server) Target() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed && !s.started {
		return ""
	}
	return C.GoString(C.TF_ServerTarget(s.c))
}

// Join blocks until the server stops; a started server never stops (see
// Server), so Join serves until the process exits. Joining a server that
// was never started, or was closed, returns at once.
func (s *Server) Join() error {
	s.mu.Lock()
	if !s.started {
		s.mu.Unlock()
		return nil
	}
	c := s.c
	s.mu.Unlock()
	st := C.TF_NewStatus()
	defer C.TF_DeleteStatus(st)
	C.TF_ServerJoin(c, st)
	if err := statusErr(st); err != nil {
		return fmt.Errorf("server %s: join: %w", s.name, err)
	}
	return nil
}

// Stop stops a server that was never started (it can then only be
// closed). On a started server it does nothing: TensorFlow cannot stop
// one (see Server). Stop may be called any number of times.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.started {
		return nil
	}
	st := C.TF_NewStatus()
	defer C.TF_DeleteStatus(st)
	C.TF_ServerStop(s.c, st)
	if err := statusErr(st); err != nil {
		return fmt.Errorf("server %s: stop: %w", s.name, err)
	}
	return nil
}

// Close frees a server that was never started, releasing its port. A
// started server keeps serving until the process exits (see Server).
// Close may be called any number of times.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.started {
		return nil
	}
	st := C.TF_NewStatus()
	defer C.TF_DeleteStatus(st)
	C.TF_ServerStop(s.c, st)
	C.TF_DeleteServer(s.c)
	s.c = nil
	return nil
}
