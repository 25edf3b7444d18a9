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

// rangeNames builds m for training and returns the names of its output
// quantizers' range variables (the _min half of each pair).
func rangeNames(t *testing.T, m models.Model) []string {
	t.Helper()
	g := tfgraph.NewGraph()
	x := g.Placeholder("x", tf.Float, append([]int64{2}, m.Input...))
	env := qat.NewEnv(g, true, nil)
	env.Step = g.Const("step", int64(0))
	if _, err := m.Build(layers.NewBuilder(env, nil, nil, 1), x); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range env.RangeVariables() {
		if strings.HasSuffix(v.Name, "_min") && !strings.Contains(v.Name, "kernel") {
			names = append(names, strings.TrimSuffix(v.Name, "_min"))
		}
	}
	return names
}

func conv(name string, filters int, act string) layers.Conv2D {
	return layers.Conv2D{Name: name, Filters: filters, Kernel: [2]int{3, 3}, Padding: "same", Activation: act, NoBias: act == ""}
}

// TestGraphPlacement checks where output quantizers go in graph-shaped
// models, rule by rule, against tfmot's default 8-bit transforms.
func TestGraphPlacement(t *testing.T) {
	s := qat.Default8Bit()
	in := []int64{8, 8, 4}
	for _, c := range []struct {
		name string
		m    models.Model
		want []string
	}{
		{"resnet block: Conv-BN-ReLU-Conv-BN, Add, ReLU: after r1, bn2, the closing ReLU", models.Model{Input: in, Scheme: s,
			Layers: []layers.Layer{conv("c1", 4, ""), layers.BatchNorm{Name: "bn1"}, layers.ReLU{Name: "r1"},
				conv("c2", 4, ""), layers.BatchNorm{Name: "bn2"}, layers.Add{Name: "add"}, layers.ReLU{Name: "out"},
				layers.GlobalAvgPool{Name: "gap"}},
			From: map[string][]string{"c1": {"input"}, "add": {"input", "bn2"}}},
			[]string{"quantize_layer/quantize_layer", "r1/post_activation", "bn2/post_activation", "out/post_activation", "gap/post_activation"}},
		{"Add without ReLU quantizes its output; a shared input is quantized once", models.Model{Input: in, Scheme: s,
			Layers: []layers.Layer{conv("c1", 4, "relu"), conv("c2", 4, "relu"), layers.Add{Name: "add"}},
			From:   map[string][]string{"add": {"c1", "c2"}}},
			[]string{"quantize_layer/quantize_layer", "c1/post_activation", "c2/post_activation", "add/post_activation"}},
		{"Concatenate: the inputs' quantizers go, weighted layers keep theirs", models.Model{Input: in, Scheme: s,
			Layers: []layers.Layer{layers.AvgPool{Name: "p", Padding: "same", Strides: [2]int{1, 1}}, conv("c", 4, "relu"),
				layers.Concatenate{Name: "cat"}},
			From: map[string][]string{"p": {"input"}, "c": {"input"}, "cat": {"p", "c"}}},
			[]string{"quantize_layer/quantize_layer", "c/post_activation", "cat/post_activation"}},
		{"Concatenate on a shared input: tfmot's rule does not match, every quantizer stays", models.Model{Input: in, Scheme: s,
			Layers: []layers.Layer{layers.AvgPool{Name: "p", Padding: "same", Strides: [2]int{1, 1}}, layers.Concatenate{Name: "cat"}},
			From:   map[string][]string{"p": {"input"}, "cat": {"p", "input"}}},
			[]string{"quantize_layer/quantize_layer", "p/post_activation", "cat/post_activation"}},
		{"a shared Add before a ReLU keeps its quantizer", models.Model{Input: in, Scheme: s,
			Layers: []layers.Layer{conv("c1", 4, "relu"), layers.Add{Name: "add"}, layers.ReLU{Name: "r"}, layers.Add{Name: "add2"}},
			From:   map[string][]string{"add": {"input", "c1"}, "add2": {"r", "add"}}},
			[]string{"quantize_layer/quantize_layer", "c1/post_activation", "add/post_activation", "r/post_activation", "add2/post_activation"}},
		{"pass-through layers add none", models.Model{Input: in, Scheme: s,
			Layers: []layers.Layer{layers.ZeroPadding2D{Name: "zp", Pad: [4]int{1, 1, 1, 1}}, layers.Dropout{Name: "dr", Rate: 0.5},
				layers.Reshape{Name: "rs", Shape: []int64{-1}}, layers.Dense{Name: "d", Units: 3}}},
			[]string{"quantize_layer/quantize_layer", "d/post_activation"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := rangeNames(t, c.m)
			slices.Sort(got)
			want := slices.Sorted(slices.Values(c.want))
			if !slices.Equal(got, want) {
				t.Errorf("output quantizers %q\nwant %q", got, want)
			}
		})
	}
}

// TestGraphErrors checks that bad wiring is reported naming the layer.
func TestGraphErrors(t *testing.T) {
	in := []int64{8, 8, 4}
	two := []layers.Layer{conv("c1", 4, "relu"), conv("c2", 4, "relu"), layers.Add{Name: "add"}}
	for _, c := range []struct {
		name string
		m    models.Model
		want string
	}{
		{"unknown input", models.Model{Input: in, Layers: two, From: map[string][]string{"add": {"c1", "cx"}}},
			`layer add takes "cx", which is not a layer of the model`},
		{"later input", models.Model{Input: in, Layers: two, From: map[string][]string{"c1": {"c2"}}},
			"layer c1 takes c2, which comes after it"},
		{"add with one input", models.Model{Input: in, Layers: two}, "layer add: add takes two or more inputs"},
		{"conv with two inputs", models.Model{Input: in, Layers: two, From: map[string][]string{"c2": {"c1", "input"}, "add": {"c1", "c2"}}},
			"layer c2 takes 2 inputs (c1, input); only add and concatenate take more than one"},
		{"shapes differ", models.Model{Input: in, Layers: []layers.Layer{conv("c1", 8, "relu"), layers.Add{Name: "add"}},
			From: map[string][]string{"add": {"c1", "input"}}}, "layer add: input 1 has shape [batch [8 8 4]], input 0 [batch [8 8 8]]; add needs one shape"},
		{"concat axis", models.Model{Input: in, Layers: []layers.Layer{conv("c1", 8, "relu"), layers.Concatenate{Name: "cat", Axis: 5}},
			From: map[string][]string{"cat": {"c1", "input"}}}, "layer cat: axis 5 is outside the input's axes"},
		{"concat shapes", models.Model{Input: in, Layers: []layers.Layer{layers.MaxPool{Name: "p"}, layers.Concatenate{Name: "cat"}},
			From: map[string][]string{"cat": {"p", "input"}}}, "they may differ only on axis 3"},
		{"unused output", models.Model{Input: in, Layers: two, From: map[string][]string{"add": {"c1", "input"}}},
			"the output of layer c2 is not used"},
		{"unknown output", models.Model{Input: in, Layers: two[:1], Output: "d"}, `the output is layer "d", which the model does not have`},
		{"layer named input", models.Model{Input: in, Layers: []layers.Layer{conv("input", 4, "")}}, `layer 0 is named "input"`},
		{"from for no layer", models.Model{Input: in, Layers: two[:1], From: map[string][]string{"zz": {"input"}}},
			`inputs are given for layer "zz", which the model does not have`},
		{"reshape size", models.Model{Input: in, Layers: []layers.Layer{layers.Reshape{Name: "r", Shape: []int64{5, -1}}}},
			"layer r: cannot reshape [batch [8 8 4]] (256 values) to [batch [5 -1]]"},
		{"dropout rate", models.Model{Input: in, Layers: []layers.Layer{layers.Dropout{Name: "d", Rate: 1}}}, "layer d: rate 1 must be in [0, 1)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.m.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// TestGraphShapes checks the output shapes of the graph layers.
func TestGraphShapes(t *testing.T) {
	m := models.Model{Input: []int64{6, 6, 3}, Output: "d", Layers: []layers.Layer{
		layers.ZeroPadding2D{Name: "zp", Pad: [4]int{1, 0, 2, 1}},
		conv("c", 5, "relu"),
		layers.Concatenate{Name: "cat"},
		layers.GlobalAvgPool{Name: "gap"},
		layers.Reshape{Name: "rs", Shape: []int64{2, -1}},
		layers.Flatten{Name: "f"},
		layers.Dense{Name: "d", Units: 2},
	}, From: map[string][]string{"cat": {"zp", "c"}}}
	shapes, err := m.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int64{{7, 9, 3}, {7, 9, 5}, {7, 9, 8}, {8}, {2, 4}, {8}, {2}}
	if !slices.EqualFunc(shapes, want, slices.Equal) {
		t.Errorf("shapes %v, want %v", shapes, want)
	}
}
