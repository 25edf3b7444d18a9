package tfgraph

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"
	cpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// SessionConfig says how a session runs its graph.
type SessionConfig struct {
	// IntraOpThreads and InterOpThreads size TensorFlow's thread pools;
	// 0 lets TensorFlow choose. Reductions and matrix products split their
	// work by thread count, so bit-for-bit parity with another TensorFlow
	// process needs the same counts on both sides (1 and 1 is simplest).
	IntraOpThreads, InterOpThreads int
	// Optimize enables TensorFlow's graph rewrites (Grappler and the
	// classic graph optimizer). Off by default: eager Python runs each op
	// as written, and so should a graph that must match it bit for bit.
	Optimize bool
}

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
	cp := &cpb.ConfigProto{
		IntraOpParallelismThreads: int32(cfg.IntraOpThreads),
		InterOpParallelismThreads: int32(cfg.InterOpThreads),
		// No GPU devices: qat-go runs on TensorFlow's CPU kernels (the
		// tensorflow-cpu wheel), and asking for none keeps the CUDA
		// platform from probing for a driver and logging "E0000 ...
		// failed call to cuInit" on every first session.
		DeviceCount: map[string]int32{"GPU": 0},
	}
	if !cfg.Optimize {
		cp.GraphOptions = &cpb.GraphOptions{
			OptimizerOptions: &cpb.OptimizerOptions{
				OptLevel:                         cpb.OptimizerOptions_L0,
				DoConstantFolding:                false,
				DoCommonSubexpressionElimination: false,
			},
			RewriteOptions: &cpb.RewriterConfig{DisableMetaOptimizer: true},
		}
	}
	b, err := proto.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("session config: %w", err)
	}
	return &tf.SessionOptions{Config: b}, nil
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
		if err != nil {
			return nil, nil, fmt.Errorf("examples %d..%d: %w", from, to, err)
		}
		vals = append(vals, v...)
		outShape = append([]int64{int64(to)}, got[1:]...)
	}
	return outShape, vals, nil
}
