package loop

import (
	"fmt"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Calibrate runs m in float on each batch of x (initial weights from init
// and seed, as NewTrainer would draw them) and returns, for every quantizer
// range variable, the range its policy would derive from the data: the
// smallest min and largest max over the batches (each clipped to contain 0,
// or made symmetric, as the policy does). Pass the result as Config.Ranges
// to start training from it instead of tfmot's [-6, 6].
func Calibrate(m models.Model, x []data.Array, init data.Weights, seed uint64, sc tfgraph.SessionConfig) (map[string][]float32, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if len(x) == 0 {
		return nil, fmt.Errorf("calibrate: no batches")
	}
	g := tfgraph.NewGraph()
	in := g.Placeholder("x", tf.Float, append([]int64{-1}, m.Input...))
	env := qat.NewEnv(g, true, nil)
	env.Calibrate = true
	b := layers.NewBuilder(env, m.Scheme, init, seed)
	if _, err := m.Build(b, in); err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	obs := env.Observed()
	names := make([]string, 0, len(obs))
	fetch := make([]tf.Output, 0, len(obs))
	for n, o := range obs {
		names = append(names, n)
		fetch = append(fetch, o)
	}
	sess, err := tfgraph.NewSession(g, sc)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{g.InitOp()}); err != nil {
		return nil, fmt.Errorf("calibrate: initialise: %w", err)
	}
	out := map[string][]float32{}
	for i, a := range x {
		xt, err := tfgraph.NewTensor(a.Shape, a.Data)
		if err != nil {
			return nil, fmt.Errorf("calibrate batch %d: %w", i, err)
		}
		res, err := sess.Run(map[tf.Output]*tf.Tensor{in: xt}, fetch, nil)
		if err != nil {
			return nil, fmt.Errorf("calibrate batch %d: %w", i, err)
		}
		for j, n := range names {
			v, err := tfgraph.Float32s(res[j])
			if err != nil {
				return nil, fmt.Errorf("calibrate %s: %w", n, err)
			}
			cur, seen := out[n]
			if !seen {
				out[n] = v
				continue
			}
			isMin := len(n) > 4 && n[len(n)-4:] == "_min"
			for k := range cur {
				if (isMin && v[k] < cur[k]) || (!isMin && v[k] > cur[k]) {
					cur[k] = v[k]
				}
			}
		}
	}
	return out, nil
}
