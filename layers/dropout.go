package layers

import (
	"fmt"
	"hash/fnv"
	"math"

	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Dropout is Keras's Dropout: in training each value is kept with
// probability 1-Rate and scaled by 1/(1-Rate), else zeroed; in inference
// it passes its input through. The mask is drawn by TensorFlow's stateless
// uniform generator from the Builder's seed, the layer's name and the
// step, so a run and its resumed copy drop the same values. Its output
// keeps its input's quantization. In a data-parallel step each replica
// draws the mask of the whole global batch and keeps its own rows, so the
// masks are one process's.
type Dropout struct {
	Name string
	Rate float64 // in [0, 1)
}

// LayerName implements Layer.
func (d Dropout) LayerName() string { return d.Name }

// OutputShape implements Layer.
func (d Dropout) OutputShape(in []int64) ([]int64, error) {
	if !(d.Rate >= 0 && d.Rate < 1) {
		return nil, fmt.Errorf("layer %s: rate %g must be in [0, 1)", d.Name, d.Rate)
	}
	return in, nil
}

// Build implements Layer.
func (d Dropout) Build(b *Builder, x tf.Output) (tf.Output, error) {
	if _, err := inputShape(d, x); err != nil {
		return tf.Output{}, err
	}
	if !b.Env.Training || d.Rate == 0 {
		return x, nil
	}
	if b.Env.Step == (tf.Output{}) {
		return tf.Output{}, fmt.Errorf("layer %s: dropout in training needs the step counter (qat.Env.Step)", d.Name)
	}
	g := b.Graph()
	s := g.Scope(d.Name)
	h := fnv.New64a()
	h.Write([]byte(d.Name))
	seed := s.Op1("Pack", "seed", []any{[]tf.Output{s.Const("layer_seed", int64((h.Sum64()^b.seed)&math.MaxInt64)), b.Env.Step}}, map[string]any{"axis": int64(0)})
	u := mask(s, x, seed, b.Env)
	keep := s.Cast("Cast", s.GreaterEqual("GreaterEqual", u, s.Scalar("rate", float32(d.Rate))), tf.Float)
	y := s.Mul("mul_1", s.Mul("mul", x, s.Scalar("scale", float32(1/(1-d.Rate)))), keep)
	if err := g.Err(); err != nil {
		return tf.Output{}, fmt.Errorf("layer %s: %w", d.Name, err)
	}
	return y, nil
}

// mask draws uniform values in [0, 1) of x's shape from seed. In replica i
// of n it draws those of the global batch (n times x's rows) and slices
// rows [i*b, (i+1)*b): the generator is counter-based, so they are the
// values one process draws for those rows.
func mask(s *tfgraph.Graph, x, seed tf.Output, env *qat.Env) tf.Output {
	shape := s.Shape("Shape", x)
	i, n := env.Shard()
	if n == 1 {
		return s.Op1("StatelessRandomUniform", "random_uniform", []any{shape, seed}, map[string]any{"dtype": tf.Float})
	}
	dims, err := tfgraph.ShapeOf(x)
	if err != nil {
		s.SetErr(err)
		return tf.Output{}
	}
	rows, begin := make([]int64, len(dims)), make([]int64, len(dims))
	for k := range rows {
		rows[k] = 1
	}
	rows[0], begin[0] = int64(n), int64(i)
	global := s.Mul("global_shape", shape, s.Const("replicas", rows))
	u := s.Op1("StatelessRandomUniform", "random_uniform", []any{global, seed}, map[string]any{"dtype": tf.Float})
	return s.Op1("Slice", "shard", []any{u, s.Mul("begin", shape, s.Const("replica", begin)), shape}, nil)
}
