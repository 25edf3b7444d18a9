package models_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

var mnistInput = []int64{28, 28, 1}

// TestZooNets checks the zoo's real-sized models on 28x28x1 digits: they
// validate, hold the parameters counted by hand below, and their
// layers have the shapes their design gives.
//
// MobileNetV2(0.35): widths 16 (Conv1), then per stage 8, 8, 16, 24, 32,
// 56, 112 (int(filters*0.35) rounded to 8), Conv_1 1280. A block of input c,
// expansion e = 6c and output o holds c*e (expand) + 4e (BN) + 9e
// (depthwise) + 4e (BN) + e*o (project) + 4o (BN) = e(c+17+o) + 4o.
//
//	Conv1 9*16 + bn 64                                 =    208
//	block 0 (no expansion): 9*16 + 64 + 16*8 + 32      =    368
//	blocks 1-2  (8->8, e 48):  2 * (48*33 + 32)        =   3232
//	block 3     (8->16, e 48): 48*41 + 64              =   2032
//	blocks 4-5  (16->16, e 96): 2 * (96*49 + 64)       =   9536
//	block 6     (16->24, e 96): 96*57 + 96             =   5568
//	blocks 7-9  (24->24, e 144): 3 * (144*65 + 96)     =  28368
//	block 10    (24->32, e 144): 144*73 + 128          =  10640
//	blocks 11-12 (32->32, e 192): 2 * (192*81 + 128)   =  31360
//	block 13    (32->56, e 192): 192*105 + 224         =  20384
//	blocks 14-15 (56->56, e 336): 2 * (336*129 + 224)  =  87136
//	block 16    (56->112, e 336): 336*185 + 448        =  62608
//	Conv_1 112*1280 + bn 4*1280                        = 148480
//	predictions 1280*10 + 10                           =  12810
//	total                                              = 422730
//
// (With 3 input channels and 1000 classes that is 1,691,208, what
// tf_keras.applications.MobileNetV2(alpha=0.35) counts.)
//
// ResNet(depth): conv1 9*16 + bn 64 = 208; a block of c -> f filters
// holds 9cf + 4f + 9ff + 4f, plus c*f + f for a projection shortcut;
// Dense 64*10 + 10 = 650.
//
//	ResNet-8:  208 + 4736 + (4608+128+9216+128+544) + (18432+256+36864+256+2112) + 650 = 78138
//	ResNet-20: 208 + 3*4736 + (14624 + 2*18688) + (57920 + 2*74240) + 650          = 273466
func TestZooNets(t *testing.T) {
	mobile := func(s *qat.Scheme) (models.Model, error) { return models.MobileNetV2(0.35, mnistInput, 10, s) }
	for _, c := range []struct {
		name   string
		make   func(*qat.Scheme) (models.Model, error)
		params int64
		layers int
		shapes map[string][]int64 // by layer name
		adds   int
	}{
		{"mobilenetv2-0.35", mobile, 422730, 152, map[string][]int64{
			"Conv1_relu": {14, 14, 16}, "expanded_conv_project_BN": {14, 14, 8}, "block_1_add": {14, 14, 8},
			"block_3_depthwise": {7, 7, 48}, "block_5_add": {7, 7, 16}, "block_16_project_BN": {7, 7, 112},
			"out_relu": {7, 7, 1280}, "global_average_pooling2d": {1280}, "predictions": {10}}, 11},
		{"resnet8", func(s *qat.Scheme) (models.Model, error) { return models.ResNet(8, mnistInput, 10, s) }, 78138, 28,
			map[string][]int64{"stage1_block1_add": {28, 28, 16}, "stage2_block1_shortcut": {14, 14, 32},
				"stage3_block1_out": {7, 7, 64}, "gap": {64}, "logits": {10}}, 3},
		{"resnet20", func(s *qat.Scheme) (models.Model, error) { return models.ResNet(20, mnistInput, 10, s) }, 273466, 70,
			map[string][]int64{"stage1_block3_out": {28, 28, 16}, "stage2_block3_add": {14, 14, 32},
				"stage3_block3_out": {7, 7, 64}, "logits": {10}}, 9},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, s := range []*qat.Scheme{nil, qat.Default8Bit(), qat.Bits(4, 8)} {
				m, err := c.make(s)
				if err != nil {
					t.Fatalf("scheme %+v: %v", s, err)
				}
				if err := m.Validate(); err != nil {
					t.Fatalf("scheme %+v: %v", s, err)
				}
			}
			m, err := c.make(nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Layers) != c.layers {
				t.Errorf("%d layers, want %d", len(m.Layers), c.layers)
			}
			fp, err := m.Footprint(1, false)
			if err != nil {
				t.Fatal(err)
			}
			if fp.Params != c.params {
				t.Errorf("Footprint counts %d parameters, want %d", fp.Params, c.params)
			}
			w, err := m.InitialWeights(nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, a := range w {
				n += int64(len(a.Data))
			}
			if n != c.params {
				t.Errorf("the built variables hold %d values, want %d", n, c.params)
			}
			shapes, err := m.Shapes()
			if err != nil {
				t.Fatal(err)
			}
			adds := 0
			for i, l := range m.Layers {
				if want, ok := c.shapes[l.LayerName()]; ok && !slices.Equal(shapes[i], want) {
					t.Errorf("layer %s: shape %v, want %v", l.LayerName(), shapes[i], want)
				}
				if strings.HasSuffix(l.LayerName(), "_add") {
					adds++
				}
			}
			if adds != c.adds {
				t.Errorf("%d residual adds, want %d", adds, c.adds)
			}
		})
	}
}

// TestZooNetsBadArguments checks that bad sizes are errors naming them.
func TestZooNetsBadArguments(t *testing.T) {
	for _, c := range []struct {
		name string
		make func() (models.Model, error)
		want string
	}{
		{"alpha 0", func() (models.Model, error) { return models.MobileNetV2(0, mnistInput, 10, nil) }, "alpha 0 must be in (0, 4]"},
		{"alpha NaN", func() (models.Model, error) { return models.MobileNetV2(nan(), mnistInput, 10, nil) }, "alpha NaN"},
		{"mobilenet classes 0", func() (models.Model, error) { return models.MobileNetV2(0.35, mnistInput, 0, nil) }, "classes 0 must be > 0"},
		{"mobilenet input too small", func() (models.Model, error) { return models.MobileNetV2(0.35, []int64{28, 28}, 10, nil) }, "layer Conv1: input must be [batch, height, width, channels]"},
		{"depth 9", func() (models.Model, error) { return models.ResNet(9, mnistInput, 10, nil) }, "depth 9 must be 6n+2"},
		{"depth 2", func() (models.Model, error) { return models.ResNet(2, mnistInput, 10, nil) }, "depth 2 must be 6n+2"},
		{"resnet classes -1", func() (models.Model, error) { return models.ResNet(8, mnistInput, -1, nil) }, "classes -1 must be > 0"},
		{"resnet bad scheme", func() (models.Model, error) {
			return models.ResNet(8, mnistInput, 10, &qat.Scheme{Default: qat.Policy{WeightBits: 1, ActivationBits: 8}})
		}, "resnet: model:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.make()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}

// MobileNetV2 of width 0.35 for MNIST digits under tfmot's 8-bit scheme.
func ExampleMobileNetV2() {
	m, err := models.MobileNetV2(0.35, []int64{28, 28, 1}, 10, qat.Default8Bit())
	if err != nil {
		fmt.Println(err)
		return
	}
	fp, _ := m.Footprint(1, false)
	fmt.Println(len(m.Layers), "layers,", fp.Params, "parameters, output", m.Classes())
	fmt.Println(m.From["block_2_add"])
	// Output:
	// 152 layers, 422730 parameters, output 10
	// [block_1_add block_2_project_BN]
}

// A CIFAR-style ResNet-20 (three stages of three basic blocks) for MNIST.
func ExampleResNet() {
	m, err := models.ResNet(20, []int64{28, 28, 1}, 10, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fp, _ := m.Footprint(1, false)
	fmt.Println(len(m.Layers), "layers,", fp.Params, "parameters")
	fmt.Println(m.From["stage2_block1_add"])
	// Output:
	// 70 layers, 273466 parameters
	// [stage2_block1_shortcut stage2_block1_bn2]
}
