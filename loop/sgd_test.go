package loop_test

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/loop"
)

// SGD, with and without momentum and Nesterov, and with weight decay,
// against Keras 3's SGD over 20 steps: bit-identical.
func TestSGDMatchesKeras(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	shape := []int64{5, 3}
	const steps, n = 20, 15
	init, grads, flat := randomSteps(r, steps, n)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.npz"), filepath.Join(dir, "out.npz")
	if err := data.WriteNPZ(in, map[string]data.Array{
		"var":   {Shape: shape, Data: init},
		"grads": {Shape: []int64{steps, 5, 3}, Data: flat},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Run("sgd_reference.py", in, out, "0.03", "0.9", "0.02"); err != nil {
		t.Fatal(err)
	}
	ref, err := data.ReadNPZ(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key string
		opt loop.SGD
	}{
		{"plain", loop.SGD{LearningRate: 0.03}},
		{"momentum", loop.SGD{LearningRate: 0.03, Momentum: 0.9}},
		{"nesterov", loop.SGD{LearningRate: 0.03, Momentum: 0.9, Nesterov: true}},
		{"nesterov_wd", loop.SGD{LearningRate: 0.03, Momentum: 0.9, Nesterov: true, WeightDecay: 0.02}},
	} {
		if sameFloats(t, "SGD "+c.key, runOptimizer(t, c.opt, shape, init, grads), ref[c.key].Data) {
			t.Logf("SGD %s: %d steps bit-identical to Keras 3", c.key, steps)
		}
	}
}

func TestSGDValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  loop.SGD
		want string
	}{
		{"plain", loop.SGD{LearningRate: 0.01}, ""},
		{"momentum 1", loop.SGD{LearningRate: 0.01, Momentum: 1}, ""},
		{"zero lr", loop.SGD{}, "learning_rate"},
		{"negative momentum", loop.SGD{LearningRate: 0.01, Momentum: -0.1}, "momentum"},
		{"momentum above 1", loop.SGD{LearningRate: 0.01, Momentum: 1.5}, "momentum"},
		{"negative weight decay", loop.SGD{LearningRate: 0.01, WeightDecay: -1}, "weight_decay"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.opt.Validate()
			if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, c.want)
			}
		})
	}
}
