package loop_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// scheduleCases are each schedule with the keyword arguments of the Keras
// 3 schedule it must equal.
var scheduleCases = []struct {
	name, kind string
	args       map[string]any
	s          loop.Schedule
}{
	{"exponential", "ExponentialDecay", map[string]any{"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5},
		loop.ExponentialDecay{Initial: 0.1, DecaySteps: 7, DecayRate: 0.5}},
	{"exponential_staircase", "ExponentialDecay", map[string]any{"initial_learning_rate": 0.03, "decay_steps": 5, "decay_rate": 0.9, "staircase": true},
		loop.ExponentialDecay{Initial: 0.03, DecaySteps: 5, DecayRate: 0.9, Staircase: true}},
	{"cosine", "CosineDecay", map[string]any{"initial_learning_rate": 0.1, "decay_steps": 15, "alpha": 0.1},
		loop.CosineDecay{Initial: 0.1, DecaySteps: 15, Alpha: 0.1}},
	{"cosine_warmup", "CosineDecay", map[string]any{"initial_learning_rate": 0.0, "decay_steps": 20, "warmup_target": 0.1, "warmup_steps": 6},
		loop.CosineDecay{DecaySteps: 20, WarmupTarget: 0.1, WarmupSteps: 6}},
	{"piecewise", "PiecewiseConstantDecay", map[string]any{"boundaries": []int{5, 12, 13}, "values": []float64{0.1, 0.05, 0.02, 0.01}},
		loop.PiecewiseConstantDecay{Boundaries: []int64{5, 12, 13}, Values: []float64{0.1, 0.05, 0.02, 0.01}}},
}

// Each schedule's rate at steps 0..63, and 30 steps of SGD (momentum 0.9)
// with it, against Keras 3's schedule of the same name: bit-identical.
func TestSchedulesMatchKeras(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 9))
	const steps, n = 30, 6
	init, grads, flat := randomSteps(r, steps, n)
	dir := t.TempDir()
	specs, in, out := filepath.Join(dir, "specs.json"), filepath.Join(dir, "in.npz"), filepath.Join(dir, "out.npz")
	var js []map[string]any
	for _, c := range scheduleCases {
		js = append(js, map[string]any{"name": c.name, "kind": c.kind, "args": c.args})
	}
	b, err := json.Marshal(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(specs, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := data.WriteNPZ(in, map[string]data.Array{
		"var":   {Shape: []int64{n}, Data: init},
		"grads": {Shape: []int64{steps, n}, Data: flat},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Run("lr_schedule_reference.py", specs, in, out); err != nil {
		t.Fatal(err)
	}
	ref, err := data.ReadNPZ(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range scheduleCases {
		t.Run(c.name, func(t *testing.T) {
			sameFloats(t, "rates at steps 0..63", rates(t, c.s, 64), ref[c.name+"/rates"].Data)
			got := runOptimizer(t, loop.SGD{Momentum: 0.9, Schedule: c.s}, []int64{n}, init, grads)
			sameFloats(t, "SGD after 30 steps", got, ref[c.name+"/sgd"].Data)
		})
	}
}

// rates evaluates s at steps 0..n-1.
func rates(t *testing.T, s loop.Schedule, n int) []float32 {
	t.Helper()
	g := tfgraph.NewGraph()
	step := g.Placeholder("step", tf.Int64, []int64{})
	lr := s.Rate(g, step)
	sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1, Numerics: tfgraph.EagerNumerics})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out := make([]float32, n)
	for i := range out {
		st, err := tf.NewTensor(int64(i))
		if err != nil {
			t.Fatal(err)
		}
		res, err := sess.Run(map[tf.Output]*tf.Tensor{step: st}, []tf.Output{lr}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := tfgraph.Float32s(res[0])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = v[0]
	}
	return out
}

func TestScheduleValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		s    loop.Schedule
		want string
	}{
		{"exponential", loop.ExponentialDecay{Initial: 0.1, DecaySteps: 10, DecayRate: 0.9}, ""},
		{"exponential zero steps", loop.ExponentialDecay{Initial: 0.1, DecayRate: 0.9}, "decay_steps 0"},
		{"exponential zero rate", loop.ExponentialDecay{Initial: 0.1, DecaySteps: 10}, "decay_rate 0"},
		{"cosine alpha", loop.CosineDecay{Initial: 0.1, DecaySteps: 10, Alpha: 2}, "alpha 2"},
		{"cosine warmup without target", loop.CosineDecay{Initial: 0.1, DecaySteps: 10, WarmupSteps: 5}, "warmup_target"},
		{"cosine from zero without warmup", loop.CosineDecay{DecaySteps: 10}, "needs warmup_steps"},
		{"piecewise counts", loop.PiecewiseConstantDecay{Boundaries: []int64{5}, Values: []float64{0.1}}, "1 boundaries and 1 values"},
		{"piecewise order", loop.PiecewiseConstantDecay{Boundaries: []int64{5, 5}, Values: []float64{0.1, 0.2, 0.3}}, "must increase"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.s.Validate()
			if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, c.want)
			}
		})
	}
	if err := (loop.SGD{Schedule: loop.CosineDecay{DecaySteps: 10}}).Validate(); err == nil || !strings.Contains(err.Error(), "sgd: cosine_decay") {
		t.Errorf("SGD with a bad schedule: %v", err)
	}
}
