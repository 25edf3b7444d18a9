package loop_test

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
)

// maxRel is the largest relative difference the parity tests accept; the
// measured differences are logged (and reported in the README).
const maxRel = 1e-6

// relDiff is |a-b| / max(|a|, |b|), 0 when both are 0.
func relDiff(a, b float32) float64 {
	if a == b {
		return 0
	}
	d := math.Abs(float64(a) - float64(b))
	return d / math.Max(math.Abs(float64(a)), math.Abs(float64(b)))
}

// TestArticleParity trains each of the article's examples for 100 steps in
// Go and in Python TensorFlow (third_party/reference/article_examples.py,
// the article's own code with Keras Adam) from the same initial weights and
// data, and compares every step's loss and the final weights.
func TestArticleParity(t *testing.T) {
	for _, ex := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("example%d", ex), func(t *testing.T) {
			m, err := models.Example(ex)
			if err != nil {
				t.Fatal(err)
			}
			const steps, seed = 100, 42
			ds, err := data.Synthetic(100, int(m.Input[0]), m.Classes(), seed)
			if err != nil {
				t.Fatal(err)
			}
			init, err := m.InitialWeights(nil, seed)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			in := map[string]data.Array{"x": ds.X, "y": ds.Y}
			for k, v := range init {
				in[k] = v
			}
			inPath, outPath := filepath.Join(dir, "in.npz"), filepath.Join(dir, "out.npz")
			if err := data.WriteNPZ(inPath, in); err != nil {
				t.Fatal(err)
			}
			if _, err := oracle.Run("article_examples.py", fmt.Sprint(ex), inPath, outPath, "--steps", fmt.Sprint(steps)); err != nil {
				t.Fatal(err)
			}
			ref, err := data.ReadNPZ(outPath)
			if err != nil {
				t.Fatal(err)
			}

			cfg := loop.DefaultConfig()
			cfg.Session.Numerics = tfgraph.EagerNumerics // the article trains eagerly
			tr, err := loop.NewTrainer(m, ds, init, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			losses, w := train(t, tr, steps)

			var worstLoss, worstW float64
			identical := 0
			for i, want := range ref["losses"].Data {
				d := relDiff(losses[i], want)
				worstLoss = math.Max(worstLoss, d)
				if d == 0 {
					identical++
				}
				if d > maxRel {
					t.Errorf("step %d: loss %v (Go) vs %v (TF), rel diff %.3g", i+1, losses[i], want, d)
				}
			}
			for name, got := range w {
				want, ok := ref[name]
				if !ok {
					t.Fatalf("reference has no %s", name)
				}
				for i := range want.Data {
					d := relDiff(got.Data[i], want.Data[i])
					worstW = math.Max(worstW, d)
					if d > maxRel {
						t.Errorf("%s[%d]: %v (Go) vs %v (TF), rel diff %.3g", name, i, got.Data[i], want.Data[i], d)
						break
					}
				}
			}
			t.Logf("example %d: %d/%d losses bit-identical; max rel diff: loss %.3g, final weights %.3g; loss %.4f -> %.4f",
				ex, identical, steps, worstLoss, worstW, losses[0], losses[steps-1])
		})
	}
}
