package models_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/qat-go/qat/models"
)

const residualConfig = `
input: [8, 8, 3]
data: {examples: 8}
layers:
  - {type: zero_padding2d, name: zp, pad: [1]}
  - {type: conv2d, name: c1, filters: 4, kernel: [3, 3], no_bias: true}
  - {type: batch_norm, name: bn1}
  - {type: relu, name: r1}
  - {type: conv2d, name: c2, filters: 4, kernel: [3, 3], padding: same, activation: relu}
  - {type: add, name: a1, inputs: [r1, c2]}
  - {type: concatenate, name: cat, inputs: [a1, r1], axis: -1}
  - {type: dropout, name: dr, rate: 0.25}
  - {type: global_avg_pool, name: gap}
  - {type: reshape, name: rs, shape: [2, 4]}
  - {type: flatten, name: f}
  - {type: dense, name: d, units: 10}
  - {type: dense, name: aux, units: 2, inputs: [gap]}
output: d
`

// TestConfigGraph reads a residual, concatenating config: inputs wire the
// layers, output picks the model's output.
func TestConfigGraph(t *testing.T) {
	c, err := models.ParseConfig(strings.NewReader(strings.Replace(residualConfig, "  - {type: dense, name: aux, units: 2, inputs: [gap]}\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Model()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.From["a1"], []string{"r1", "c2"}) || m.Output != "d" || m.Classes() != 10 {
		t.Errorf("model from %v, output %q, classes %d", m.From, m.Output, m.Classes())
	}
	shapes, err := m.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	if got := shapes[6]; !slices.Equal(got, []int64{8, 8, 8}) {
		t.Errorf("concatenation shape %v, want [8 8 8]", got)
	}
	// The aux head's output is used by nothing.
	if _, err := models.ParseConfig(strings.NewReader(residualConfig)); err == nil || !strings.Contains(err.Error(), "the output of layer aux is not used") {
		t.Errorf("unused layer: %v", err)
	}
}

// TestConfigGraphErrors checks the graph keys' messages.
func TestConfigGraphErrors(t *testing.T) {
	for _, c := range []struct{ old, new, want string }{
		{"inputs: [r1, c2]", "inputs: []", "layer 6 (a1): inputs is empty"},
		{"inputs: [r1, c2]", "inputs: [r1, nope]", `layer a1 takes "nope", which is not a layer of the model`},
		{"axis: -1", "axis: 0", "layer 7 (cat): axis 0 is the batch axis"},
		{"pad: [1]", "pad: [1, 2, 3]", "pad [1 2 3]: give [n], [height, width] or [top, bottom, left, right]"},
		{"pad: [1]", "pad: [-1]", "pad [-1]: every value must be >= 0"},
		{"rate: 0.25", "rate: 1.5", "layer 8 (dr): rate 1.5 must be in [0, 1)"},
		{"shape: [2, 4]", "shape: [3, 3]", "layer rs: cannot reshape [batch [8]] (8 values) to [batch [3 3]]"},
		{"name: gap}", "name: gap, axis: 1}", "axis does not apply to a global_avg_pool layer (it takes no keys besides type and name)"},
		{"output: d", "output: zz", `the output is layer "zz", which the model does not have`},
		{"name: c1,", "name: input,", `layer 1 is named "input"`},
	} {
		t.Run(c.want, func(t *testing.T) {
			text := strings.Replace(residualConfig, "  - {type: dense, name: aux, units: 2, inputs: [gap]}\n", "", 1)
			if !strings.Contains(text, c.old) {
				t.Fatalf("config lacks %q", c.old)
			}
			_, err := models.ParseConfig(strings.NewReader(strings.Replace(text, c.old, c.new, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}
