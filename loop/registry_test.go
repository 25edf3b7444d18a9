package loop

import (
	"slices"
	"strings"
	"testing"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// TestConfigGradients trains with gradient registries other than the
// default: the trainer differentiates with Config.Gradients.
func TestConfigGradients(t *testing.T) {
	zeroRelu := tfgraph.DefaultRegistry()
	zeroRelu.Register("Relu", func(g *tfgraph.Graph, n *tfgraph.Node, dys []tf.Output) ([]tf.Output, error) {
		return []tf.Output{g.ZerosLike("zero_relu_grad", dys[0])}, nil
	})
	for _, tc := range []struct {
		name    string
		reg     *tfgraph.Registry
		changed int    // model variables a step changes
		err     string // NewTrainer's error
	}{
		{"default (nil)", nil, 4, ""},
		{"default", tfgraph.DefaultRegistry(), 4, ""},
		{"Relu's gradient replaced by zeros: the layer before it stays", zeroRelu, 2, ""},
		{"empty", &tfgraph.Registry{}, 0, "gradients: no gradient registered for op type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lc := DefaultConfig()
			lc.Gradients = tc.reg
			tr, err := deepTrainer(t, 1, lc)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			before, err := tr.Weights()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Step(); err != nil {
				t.Fatal(err)
			}
			after, err := tr.Weights()
			if err != nil {
				t.Fatal(err)
			}
			var changed []string
			for _, name := range before.Names() {
				if !slices.Equal(before[name].Data, after[name].Data) {
					changed = append(changed, name)
				}
			}
			if len(changed) != tc.changed {
				t.Errorf("a step changed %v of %v, want %d variables", changed, before.Names(), tc.changed)
			}
		})
	}
}
