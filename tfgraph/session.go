package tfgraph

import (
	"fmt"
	"os"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	cpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// Numerics names the TensorFlow whose results a session reproduces bit for
// bit. The same kernels run either way; what differs is whether TensorFlow
// rewrites the graph before running it (Grappler's fusions, layout and
// arithmetic passes, constant folding), which changes the order of some
// float operations and so the last bits of results.
type Numerics string

const (
	// GraphNumerics rewrites the graph as tf.function does, and so as
	// Keras's fit, train_on_batch and predict do, and as a loaded
	// SavedModel's signatures run in Python: Grappler on with TensorFlow's
	// default options. It is the faster mode and the default.
	GraphNumerics Numerics = "graph"
	// EagerNumerics runs every op as written, as eager TensorFlow does
	// (GradientTape code such as the article's, a Keras model called
	// outside tf.function): no graph rewrites.
	EagerNumerics Numerics = "eager"
)

// ParseNumerics returns the mode named s ("graph" or "eager"; "" is the
// default, GraphNumerics).
func ParseNumerics(s string) (Numerics, error) {
	switch n := Numerics(s); n {
	case "":
		return GraphNumerics, nil
	case GraphNumerics, EagerNumerics:
		return n, nil
	}
	return "", fmt.Errorf("numerics %q: want %q (tf.function and Keras fit) or %q (eager TensorFlow)", s, GraphNumerics, EagerNumerics)
}

// SessionConfig says how a session runs its graph.
type SessionConfig struct {
	// IntraOpThreads and InterOpThreads size TensorFlow's thread pools;
	// 0 lets TensorFlow choose. Reductions and matrix products split their
	// work by thread count, so bit-for-bit parity with another TensorFlow
	// process needs the same intra-op count on both sides (1 is simplest).
	// InterOpThreads may be InlineOps: each Session.Run then executes its
	// ops on the calling thread, with no hand-off to a pool thread.
	IntraOpThreads, InterOpThreads int
	// Numerics chooses whose results the session reproduces: "" or
	// GraphNumerics (tf.function, Keras fit; the default) or
	// EagerNumerics (eager TensorFlow).
	Numerics Numerics
	// XLA compiles clusters of the graph's ops with XLA (TensorFlow's
	// autoclustering, global_jit_level ON_1, as
	// tf.config.optimizer.set_jit(True) does). It needs graph numerics,
	// and on CPU the flag --tf_xla_cpu_global_jit in TF_XLA_FLAGS. Its
	// results differ from both numerics modes in the last bits, and on
	// this project's CNN and MLP workloads it is slower than graph mode
	// (BENCHMARKS.md).
	XLA bool
	// Target is the TensorFlow runtime the session runs on: "" for this
	// process, or a cluster server's "grpc://host:port" (Server.Target),
	// whose master then runs the graph's ops on the tasks their devices
	// name.
	Target string
}

// InlineOps as SessionConfig.InterOpThreads runs each Session.Run's ops on
// the thread that called it (TensorFlow's negative
// inter_op_parallelism_threads). It saves a thread hand-off per op, which
// matters for small, dispatch-bound graphs; results are the same bits.
const InlineOps = -1

// cpuAutoclusterFlag is the TF_XLA_FLAGS flag without which TensorFlow's
// autoclustering leaves CPU graphs alone.
const cpuAutoclusterFlag = "--tf_xla_cpu_global_jit"

// NewSession opens a session on g's graph. It fails if g has a build error.
func NewSession(g *Graph, cfg SessionConfig) (*tf.Session, error) {
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("graph has an error: %w", err)
	}
	opts, err := cfg.Options()
	if err != nil {
		return nil, err
	}
	var s *tf.Session
	WithProfSignalBlocked(func() { s, err = tf.NewSession(g.TF(), opts) })
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	return s, nil
}

// Options returns the session options (a serialized ConfigProto) that
// carry cfg, for sessions TensorFlow opens itself, such as
// tf.LoadSavedModel's.
func (cfg SessionConfig) Options() (*tf.SessionOptions, error) {
	numerics, err := ParseNumerics(string(cfg.Numerics))
	if err != nil {
		return nil, err
	}
	if cfg.IntraOpThreads < 0 {
		return nil, fmt.Errorf("session config: intra-op thread count %d must not be negative", cfg.IntraOpThreads)
	}
	if cfg.InterOpThreads < InlineOps {
		return nil, fmt.Errorf("session config: inter-op thread count %d: want a count >= 0, or InlineOps (%d) to run ops on the calling thread", cfg.InterOpThreads, InlineOps)
	}
	cp := &cpb.ConfigProto{
		IntraOpParallelismThreads: int32(cfg.IntraOpThreads),
		InterOpParallelismThreads: int32(cfg.InterOpThreads),
		// No GPU devices: qat-go runs on TensorFlow's CPU kernels (the
		// tensorflow-cpu wheel), and asking for none keeps the CUDA
		// platform from probing for a driver and logging "E0000 ...
		// failed call to cuInit" on every first session.
		DeviceCount: map[string]int32{"GPU": 0},
	}
	if numerics == EagerNumerics {
		// Neither Grappler nor the classic graph optimizer: each op runs
		// as written, as eager TensorFlow runs it.
		cp.GraphOptions = &cpb.GraphOptions{
			OptimizerOptions: &cpb.OptimizerOptions{
				OptLevel:                         cpb.OptimizerOptions_L0,
				DoConstantFolding:                false,
				DoCommonSubexpressionElimination: false,
			},
			RewriteOptions: &cpb.RewriterConfig{DisableMetaOptimizer: true},
		}
	}
	if cfg.XLA {
		if numerics == EagerNumerics {
			return nil, fmt.Errorf("session config: XLA compiles clusters of ops into new kernels, which eager numerics rule out; use graph numerics with XLA")
		}
		if !strings.Contains(os.Getenv("TF_XLA_FLAGS"), cpuAutoclusterFlag) {
			return nil, fmt.Errorf("session config: XLA on CPU needs %s in the environment variable TF_XLA_FLAGS before the program's first session (TensorFlow autoclusters only for GPUs without it)", cpuAutoclusterFlag)
		}
		cp.GraphOptions = &cpb.GraphOptions{OptimizerOptions: &cpb.OptimizerOptions{GlobalJitLevel: cpb.OptimizerOptions_ON_1}}
	}
	b, err := proto.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("session config: %w", err)
	}
	return &tf.SessionOptions{Target: cfg.Target, Config: b}, nil
}

// RunBatches feeds x (float32, shape [N, ...] with values in row-major
// order) to in, batch rows at a time, and returns out's float32 values for
// all N rows with their shape. It is how inference runs over a data set
// larger than one batch. An output without one row per example of its
// batch, or whose rows change shape between batches, is an error.
func RunBatches(sess *tf.Session, in, out tf.Output, shape []int64, x []float32, batch int) ([]int64, []float32, error) {
	if len(shape) == 0 {
		return nil, nil, fmt.Errorf("input has no batch axis")
	}
	n, err := numElements(shape)
	if err != nil {
		return nil, nil, err
	}
	if n != len(x) {
		return nil, nil, fmt.Errorf("input shape %v holds %d values, got %d", shape, n, len(x))
	}
	rows := int(shape[0])
	if rows == 0 {
		return nil, nil, fmt.Errorf("input has no examples")
	}
	if batch < 1 {
		return nil, nil, fmt.Errorf("batch size %d, want >= 1", batch)
	}
	row := len(x) / rows
	var outShape []int64
	var vals []float32
	for from := 0; from < rows; from += batch {
		to := min(from+batch, rows)
		xt, err := NewTensor(append([]int64{int64(to - from)}, shape[1:]...), x[from*row:to*row])
		if err != nil {
			return nil, nil, err
		}
		res, err := sess.Run(map[tf.Output]*tf.Tensor{in: xt}, []tf.Output{out}, nil)
		Release(xt)
		if err != nil {
			return nil, nil, fmt.Errorf("examples %d..%d: %w", from, to, err)
		}
		got := res[0].Shape()
		if len(got) == 0 || got[0] != int64(to-from) {
			return nil, nil, fmt.Errorf("examples %d..%d: the output has shape %v; want %d rows, one per example", from, to, got, to-from)
		}
		if outShape != nil && !SameShape(got[1:], outShape[1:]) {
			return nil, nil, fmt.Errorf("examples %d..%d: the output has shape %v but the batches before had rows of shape %v", from, to, got, outShape[1:])
		}
		v, err := Float32s(res[0])
		Release(res[0])
		if err != nil {
			return nil, nil, fmt.Errorf("examples %d..%d: %w", from, to, err)
		}
		vals = append(vals, v...)
		outShape = append([]int64{int64(to)}, got[1:]...)
	}
	return outShape, vals, nil
}
