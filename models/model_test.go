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

// TestOutputQuantizerPlacement checks that, as tfmot's layout transforms
// do, Conv -> BatchNorm -> ReLU is fake-quantized once, after the ReLU,
// folded or not, and that pooling and flatten layers add no quantizer.
func TestOutputQuantizerPlacement(t *testing.T) {
	for _, fold := range []bool{false, true} {
		g := tfgraph.NewGraph()
		x := g.Placeholder("x", tf.Float, []int64{2, 28, 28, 1})
		env := qat.NewEnv(g, true, nil)
		b := layers.NewBuilder(env, nil, nil, 1)
		if _, err := models.MNISTCNNBN(qat.Default8Bit(), fold).Build(b, x); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, v := range env.RangeVariables() {
			names = append(names, v.Name)
		}
		want := []string{
			"quantize_layer/quantize_layer_min", "quantize_layer/quantize_layer_max",
			"c1/kernel_min", "c1/kernel_max", "r1/post_activation_min", "r1/post_activation_max",
			"c2/kernel_min", "c2/kernel_max", "r2/post_activation_min", "r2/post_activation_max",
			"d1/kernel_min", "d1/kernel_max", "d1/post_activation_min", "d1/post_activation_max",
			"d/kernel_min", "d/kernel_max", "d/post_activation_min", "d/post_activation_max",
		}
		if !slices.Equal(names, want) {
			t.Errorf("fold %v: range variables\n%q\nwant\n%q", fold, names, want)
		}
	}
}

// TestModelErrors checks that bad models are reported before any graph is
// run, naming the layer.
func TestModelErrors(t *testing.T) {
	yes := true
	perChannelPool := qat.Default8Bit()
	perChannelPool.Layers = map[string]qat.Policy{"p1": {WeightBits: 8, PerChannel: &yes}}
	for _, c := range []struct {
		name  string
		model models.Model
		want  string
	}{
		{"dense on images", models.Model{Input: []int64{28, 28, 1}, Layers: []layers.Layer{layers.Dense{Name: "d", Units: 10}}},
			"layer d: dense input must be [batch, features]"},
		{"conv on vectors", models.Model{Input: []int64{784}, Layers: []layers.Layer{layers.Conv2D{Name: "c", Filters: 4, Kernel: [2]int{3, 3}}}},
			"layer c: input must be [batch, height, width, channels]"},
		{"window too big", models.Model{Input: []int64{2, 2, 1}, Layers: []layers.Layer{layers.Conv2D{Name: "c", Filters: 4, Kernel: [2]int{3, 3}}}},
			"layer c: input [2 2] is smaller than the [3 3] window"},
		{"bad activation", models.Model{Input: []int64{4}, Layers: []layers.Layer{layers.Dense{Name: "d", Units: 2, Activation: "gelu"}}},
			`layer d: unknown activation "gelu"`},
		{"per-channel pool", models.SmallCNN(perChannelPool), "scheme layer p1: per_channel set, but the layer has no weights with channels"},
		{"bits", models.MLP(qat.Bits(1, 8)), "weight_bits: num_bits 1 is outside 2..16"},
		{"activation bits", models.MLP(qat.Bits(8, 17)), "activation_bits: num_bits 17 is outside 2..16"},
		{"duplicate", models.Model{Input: []int64{4}, Layers: []layers.Layer{layers.Dense{Name: "d", Units: 2}, layers.Dense{Name: "d", Units: 2}}},
			`two layers are named "d"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.model.Validate()
			if err == nil || !contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
	// A graph input of the wrong shape.
	g := tfgraph.NewGraph()
	x := g.Placeholder("x", tf.Float, []int64{2, 28, 28})
	b := layers.NewBuilder(qat.NewEnv(g, true, nil), nil, nil, 1)
	if _, err := models.SmallCNN(nil).Build(b, x); err == nil || !contains(err.Error(), "model input has shape [2 28 28], want [batch [28 28 1]]") {
		t.Fatalf("wrong input shape: error %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
