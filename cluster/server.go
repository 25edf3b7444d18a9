package cluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/qat-go/qat/tfgraph"
	cpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
)

// EnvVar is the environment variable tf.distribute and Kubeflow's TFJob
// describe a process's cluster and task in.
const EnvVar = "TF_CONFIG"

// FromEnv reads TF_CONFIG; ok is false (and the error nil) when it is
// unset.
func FromEnv() (cfg *Config, ok bool, err error) {
	s, ok := os.LookupEnv(EnvVar)
	if !ok {
		return nil, false, nil
	}
	cfg, err = ParseTFConfig(s)
	return cfg, true, err
}

// ServerOptions tunes the server of a task.
type ServerOptions struct {
	// IntraOpThreads and InterOpThreads size the thread pools of the
	// task's devices (0: TensorFlow chooses). Bit-for-bit results across
	// runs need the same counts (1 is simplest).
	IntraOpThreads, InterOpThreads int
}

// ServerDef returns the tensorflow.ServerDef of c's task: the whole
// cluster, the task's job and index, gRPC, and the options' threads.
func (c *Config) ServerDef(o ServerOptions) (*cpb.ServerDef, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Address() == "" {
		return nil, fmt.Errorf("task %s is not in the cluster (an evaluator runs outside it); it has no server", c.Task)
	}
	if o.IntraOpThreads < 0 || o.InterOpThreads < 0 {
		return nil, fmt.Errorf("task %s: thread counts %d, %d must not be negative", c.Task, o.IntraOpThreads, o.InterOpThreads)
	}
	def := &cpb.ServerDef{
		Cluster:   &cpb.ClusterDef{},
		JobName:   c.Task.Type,
		TaskIndex: int32(c.Task.Index),
		Protocol:  "grpc",
		DefaultSessionConfig: &cpb.ConfigProto{
			IntraOpParallelismThreads: int32(o.IntraOpThreads),
			InterOpParallelismThreads: int32(o.InterOpThreads),
			DeviceCount:               map[string]int32{"GPU": 0},
		},
	}
	for _, job := range c.Cluster.Jobs() {
		tasks := map[int32]string{}
		for i, a := range c.Cluster[job] {
			tasks[int32(i)] = a
		}
		def.Cluster.Job = append(def.Cluster.Job, &cpb.JobDef{Name: job, Tasks: tasks})
	}
	return def, nil
}

// Start starts the TensorFlow server of c's task, listening on its
// address's port on every interface. A port another process holds is
// an error naming the task and the port.
func (c *Config) Start(o ServerOptions) (*tfgraph.Server, error) {
	def, err := c.ServerDef(o)
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(c.Address()) // checked by Validate
	if err := portFree(port); err != nil {
		return nil, fmt.Errorf("task %s: port %s is in use: %w", c.Task, port, err)
	}
	s, err := tfgraph.NewServer(def)
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// portFree checks that port can be listened on (TensorFlow listens on
// every interface), and frees it again at once.
func portFree(port string) error {
	if _, err := strconv.Atoi(port); err != nil {
		return errors.New("not a number")
	}
	l, err := net.Listen("tcp", net.JoinHostPort("", port))
	if err != nil {
		return err
	}
	return l.Close()
}
