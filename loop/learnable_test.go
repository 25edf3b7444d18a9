package loop_test

import (
	"testing"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// TestLearnableRanges shows that with Policy.LearnableRanges the MLP's
// activation ranges are trainable: the training graph lists
// d1/post_activation_min/_max and d2/post_activation_min/_max among its
// params (and the trainer gives them Adam slots), and 30 Adam steps at
// lr 1e-2 on MNIST move them from tfmot's [-6, 6] by FakeQuant's gradients
// with respect to min and max. Those gradients only flow from values
// outside the (nudged) range, so a bound no value ever crosses stays where
// it started; the test asserts, per bound, what the data make true.
func TestLearnableRanges(t *testing.T) {
	const steps, batch = 30, 32
	scheme := qat.Default8Bit()
	scheme.Default.LearnableRanges = true
	m := models.MLP(scheme)
	learnable := []string{"d1/post_activation_min", "d1/post_activation_max", "d2/post_activation_min", "d2/post_activation_max"}

	// The params NewTrainer optimises are those of the training build.
	g := tfgraph.NewGraph()
	env := qat.NewEnv(g, true, nil)
	built, err := m.Build(layers.NewBuilder(env, m.Scheme, nil, 1), g.Placeholder("x", tf.Float, []int64{batch, 784}))
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]bool{}
	for _, p := range built.Params {
		params[p.Var.Name] = true
	}
	for _, n := range learnable {
		if !params[n] {
			t.Errorf("the training build's params do not include %s", n)
		}
	}
	if len(built.Params) != 4+len(learnable) {
		t.Errorf("%d params, want 4 weights + %d learnable ranges", len(built.Params), len(learnable))
	}

	xs, ys, all := flatBatches(t, steps, batch, 29)
	init, err := m.InitialWeights(nil, 31)
	if err != nil {
		t.Fatal(err)
	}
	cfg := loop.DefaultConfig() // Adam lr 1e-2
	cfg.BatchSize = batch
	cfg.Session = oneThread
	tr, err := loop.NewTrainer(m, all, init, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	start, err := tr.Ranges()
	if err != nil {
		t.Fatal(err)
	}
	var first, last float32
	for i := 0; i < steps; i++ {
		l, err := tr.StepOn(xs[i], ys[i])
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = l
		}
		last = l
	}
	end, err := tr.State()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MLP with learnable activation ranges, %d steps at lr 1e-2: loss %.4f -> %.4f", steps, first, last)
	for _, n := range learnable {
		slot := "adam/" + sanitizeName(n) + "/m"
		if _, ok := end[slot]; !ok {
			t.Errorf("the trainer has no Adam slot %s for %s", slot, n)
		}
		s, e := start[n].Data, end[n].Data
		if len(s) != 1 || len(e) != 1 {
			t.Fatalf("%s: %d values at the start, %d at the end; want 1", n, len(s), len(e))
		}
		want := float32(qat.InitMax)
		if n[len(n)-4:] == "_min" {
			want = qat.InitMin
		}
		if s[0] != want {
			t.Errorf("%s starts at %v, want %v", n, s[0], want)
		}
		t.Logf("%s: %v -> %v", n, s[0], e[0])
		switch n {
		case "d1/post_activation_min":
			// A ReLU's output is never below 0 > -6: no gradient reaches it.
			if e[0] != s[0] {
				t.Errorf("%s moved from %v to %v, but no ReLU output lies below it", n, s[0], e[0])
			}
		default:
			if e[0] == s[0] {
				t.Errorf("%s did not move from %v", n, s[0])
			}
		}
	}
}

// sanitizeName is Adam's slot scope for a variable name: "/" and ":"
// replaced by "_".
func sanitizeName(n string) string {
	b := []byte(n)
	for i, c := range b {
		if c == '/' || c == ':' {
			b[i] = '_'
		}
	}
	return string(b)
}
