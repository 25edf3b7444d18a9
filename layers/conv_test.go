package layers_test

import (
	"slices"
	"testing"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// TestDepthwiseRanges checks the depthwise kernel's per-channel ranges:
// one per output channel (in*multiplier) by default, one per multiplier
// as tfmot with TFMOT.DepthwiseRangesByMultiplier.
func TestDepthwiseRanges(t *testing.T) {
	for _, c := range []struct {
		scheme *qat.Scheme
		want   []int64
	}{
		{qat.Default8Bit(), []int64{6}},
		{qat.TFMOT8Bit(), []int64{2}},
	} {
		g := tfgraph.NewGraph()
		x := g.Placeholder("x", tf.Float, []int64{2, 5, 5, 3})
		env := qat.NewEnv(g, true, nil)
		b := layers.NewBuilder(env, c.scheme, nil, 1)
		dw := layers.DepthwiseConv2D{Name: "dw", Multiplier: 2, Kernel: [2]int{3, 3}}
		if _, err := dw.Build(b, x); err != nil {
			t.Fatal(err)
		}
		var got [][]int64
		for _, v := range env.RangeVariables() {
			got = append(got, v.Shape)
		}
		// kernel_min and kernel_max, then the output's range.
		if len(got) < 2 || !slices.Equal(got[0], c.want) || !slices.Equal(got[1], c.want) {
			t.Errorf("%+v: range shapes %v, want the kernel's %v", c.scheme.TFMOT, got, c.want)
		}
	}
}
