package loop_test

import (
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

// convBN is a Conv2D (same padding, no bias), a BatchNorm and, if relu is
// named, a ReLU (ReLU6 with max6), as the reference script's conv_bn.
func convBN(name string, filters, kernel, stride int, bn, relu string, max6 bool) []layers.Layer {
	out := []layers.Layer{
		layers.Conv2D{Name: name, Filters: filters, Kernel: [2]int{kernel, kernel}, Strides: [2]int{stride, stride}, Padding: "same", NoBias: true},
		layers.BatchNorm{Name: bn},
	}
	if relu != "" {
		out = append(out, layers.ReLU{Name: relu, Max6: max6})
	}
	return out
}

// mobileNetV2Block is the reference script's mobilenetv2_block.
func mobileNetV2Block(s *qat.Scheme) models.Model {
	ls := convBN("c0", 8, 3, 2, "bn0", "r0", true)
	ls = append(ls, convBN("expand", 16, 1, 1, "bn1", "r1", true)...)
	ls = append(ls,
		layers.DepthwiseConv2D{Name: "dw", Kernel: [2]int{3, 3}, Padding: "same", NoBias: true},
		layers.BatchNorm{Name: "bn2"},
		layers.ReLU{Name: "r2", Max6: true})
	ls = append(ls, convBN("project", 8, 1, 1, "bn3", "", false)...)
	ls = append(ls, layers.Add{Name: "add"}, layers.Flatten{Name: "f"}, layers.Dense{Name: "d", Units: 10})
	return models.Model{Input: []int64{28, 28, 1}, Scheme: s, Layers: ls,
		From: map[string][]string{"add": {"r0", "bn3"}}}
}

// resNetBlock is the reference script's resnet_block.
func resNetBlock(s *qat.Scheme) models.Model {
	ls := convBN("c0", 8, 3, 2, "bn0", "r0", false)
	ls = append(ls, convBN("c1", 8, 3, 1, "bn1", "r1", false)...)
	ls = append(ls, convBN("c2", 8, 3, 1, "bn2", "", false)...)
	ls = append(ls, layers.Add{Name: "add"}, layers.ReLU{Name: "r2"}, layers.Flatten{Name: "f"}, layers.Dense{Name: "d", Units: 10})
	return models.Model{Input: []int64{28, 28, 1}, Scheme: s, Layers: ls,
		From: map[string][]string{"add": {"r0", "bn2"}}}
}

// cnnReLU is a CNN whose convolution and dense layer are each followed by
// a separate ReLU layer: tfmot keeps their kernels in float.
func cnnReLU(s *qat.Scheme) models.Model {
	return models.Model{Input: []int64{28, 28, 1}, Scheme: s, Layers: []layers.Layer{
		layers.Conv2D{Name: "c1", Filters: 8, Kernel: [2]int{3, 3}},
		layers.ReLU{Name: "r1"},
		layers.MaxPool{Name: "p1"},
		layers.Flatten{Name: "f"},
		layers.Dense{Name: "d1", Units: 32},
		layers.ReLU{Name: "r2"},
		layers.Dense{Name: "d2", Units: 10},
	}}
}

// mlpBNReLU is Dense-BatchNorm-ReLU-Dense: tfmot quantizes the batch
// norm's output as well as the ReLU's.
func mlpBNReLU(s *qat.Scheme) models.Model {
	return models.Model{Input: []int64{784}, Scheme: s, Layers: []layers.Layer{
		layers.Dense{Name: "d1", Units: 64},
		layers.BatchNorm{Name: "bn1"},
		layers.ReLU{Name: "r1"},
		layers.Dense{Name: "d2", Units: 10},
	}}
}
