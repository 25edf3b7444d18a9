package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// Serve starts c's task and serves until ctx is done, after writing
// "serving /job:worker/task:1 at grpc://localhost:2223" to w. TensorFlow
// cannot stop a started server, so the task stops serving when the
// process exits, which the caller does after Serve returns.
func (c *Config) Serve(ctx context.Context, o ServerOptions, w io.Writer) error {
	s, err := c.Start(o)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(w, "serving %s at %s\n", c.Task, s.Target())
	<-ctx.Done()
	return nil
}

// Flags are the command-line forms of a task's description: cluster
// entries as ParseFlags takes them, the job, and the task index (nil
// when not given).
type Flags struct {
	Cluster []string
	Job     string
	Task    *int
}

// Resolve returns the task that f describes, or, when f is empty, the
// one TF_CONFIG describes; from says which ("flags" or "TF_CONFIG").
// Giving both, or neither, is an error.
func Resolve(f Flags) (cfg *Config, from string, err error) {
	given := len(f.Cluster) > 0 || f.Job != "" || f.Task != nil
	env, envOK := os.LookupEnv(EnvVar)
	switch {
	case given && envOK:
		return nil, "", fmt.Errorf("both %s and --cluster/--job/--task are given; use one (%s=%.60q)", EnvVar, EnvVar, env)
	case given:
		if len(f.Cluster) == 0 || f.Job == "" || f.Task == nil {
			return nil, "", errors.New("--cluster, --job and --task go together (e.g. --cluster 'worker=localhost:2222,localhost:2223;ps=localhost:2224' --job worker --task 1)")
		}
		cfg, err := ParseFlags(f.Cluster, f.Job, *f.Task)
		return cfg, "flags", err
	case envOK:
		cfg, err := ParseTFConfig(env)
		return cfg, EnvVar, err
	}
	return nil, "", fmt.Errorf("no cluster: set %s or give --cluster, --job and --task", EnvVar)
}
