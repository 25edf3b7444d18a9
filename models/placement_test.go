package models_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// TestTFMOTCompatPlacement checks the placement quirks qat.TFMOT8Bit turns
// on against the project's default: the kernel of a Conv2D or Dense
// followed by a ReLU layer stays in float, and Dense-BatchNorm-ReLU also
// quantizes the batch norm's output.
func TestTFMOTCompatPlacement(t *testing.T) {
	reluAfter := func(s *qat.Scheme) models.Model {
		return models.Model{Input: []int64{8, 8, 1}, Scheme: s, Layers: []layers.Layer{
			layers.Conv2D{Name: "c", Filters: 2, Kernel: [2]int{3, 3}}, layers.ReLU{Name: "r1"},
			layers.Flatten{Name: "f"}, layers.Dense{Name: "d", Units: 4}, layers.ReLU{Name: "r2"},
			layers.Dense{Name: "out", Units: 2}}}
	}
	denseBN := func(s *qat.Scheme) models.Model {
		return models.Model{Input: []int64{6}, Scheme: s, Layers: []layers.Layer{
			layers.Dense{Name: "d", Units: 4}, layers.BatchNorm{Name: "bn"}, layers.ReLU{Name: "r"},
			layers.Dense{Name: "out", Units: 2}}}
	}
	in, out := "quantize_layer/quantize_layer", []string{"out/kernel", "out/post_activation"}
	for _, c := range []struct {
		name string
		m    models.Model
		want []string
	}{
		{"default: kernels before a ReLU quantized", reluAfter(qat.Default8Bit()),
			append([]string{in, "c/kernel", "r1/post_activation", "d/kernel", "r2/post_activation"}, out...)},
		{"tfmot: kernels before a ReLU in float", reluAfter(qat.TFMOT8Bit()),
			append([]string{in, "r1/post_activation", "r2/post_activation"}, out...)},
		{"default: Dense-BN-ReLU quantized once", denseBN(qat.Default8Bit()),
			append([]string{in, "d/kernel", "r/post_activation"}, out...)},
		{"tfmot: Dense-BN-ReLU quantized after BN and ReLU", denseBN(qat.TFMOT8Bit()),
			append([]string{in, "d/kernel", "bn/post_activation", "r/post_activation"}, out...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := tfgraph.NewGraph()
			x := g.Placeholder("x", tf.Float, append([]int64{2}, c.m.Input...))
			env := qat.NewEnv(g, true, nil)
			if _, err := c.m.Build(layers.NewBuilder(env, nil, nil, 1), x); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range env.RangeVariables() {
				if n, ok := strings.CutSuffix(v.Name, "_min"); ok {
					got = append(got, n)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("quantizers %q\nwant %q", got, c.want)
			}
		})
	}
}
