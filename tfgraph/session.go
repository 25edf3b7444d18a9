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
	cp := &cpb.ConfigProto{
		IntraOpParallelismThreads: int32(cfg.IntraOpThreads),
		InterOpParallelismThreads: int32(cfg.InterOpThreads),
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
	s, err := tf.NewSession(g.TF(), &tf.SessionOptions{Config: b})
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	return s, nil
}
