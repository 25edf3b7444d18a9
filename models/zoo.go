package models

import (
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/qat"
)

// MLP is the 784-128-10 perceptron of the tfmot parity test: Dense(128,
// relu) then Dense(10) logits, on flattened 28x28 digits.
func MLP(scheme *qat.Scheme) Model {
	return Model{Input: []int64{784}, Scheme: scheme, Layers: []layers.Layer{
		layers.Dense{Name: "d1", Units: 128, Activation: layers.ReLUAct},
		layers.Dense{Name: "d2", Units: 10},
	}}
}

// SmallCNN is the CNN of the tfmot parity test:
// Conv(8, 3x3, relu) - MaxPool(2) - Conv(16, 3x3, relu) - Flatten - Dense(10).
func SmallCNN(scheme *qat.Scheme) Model {
	return Model{Input: []int64{28, 28, 1}, Scheme: scheme, Layers: []layers.Layer{
		layers.Conv2D{Name: "c1", Filters: 8, Kernel: [2]int{3, 3}, Activation: layers.ReLUAct},
		layers.MaxPool{Name: "p1"},
		layers.Conv2D{Name: "c2", Filters: 16, Kernel: [2]int{3, 3}, Activation: layers.ReLUAct},
		layers.Flatten{Name: "f"},
		layers.Dense{Name: "d", Units: 10},
	}}
}

// MNISTCNN is the model of the accuracy figures:
// Conv(32, 3x3, relu) - MaxPool - Conv(64, 3x3, relu) - MaxPool - Flatten -
// Dense(128, relu) - Dense(10).
func MNISTCNN(scheme *qat.Scheme) Model {
	return Model{Input: []int64{28, 28, 1}, Scheme: scheme, Layers: []layers.Layer{
		layers.Conv2D{Name: "c1", Filters: 32, Kernel: [2]int{3, 3}, Activation: layers.ReLUAct},
		layers.MaxPool{Name: "p1"},
		layers.Conv2D{Name: "c2", Filters: 64, Kernel: [2]int{3, 3}, Activation: layers.ReLUAct},
		layers.MaxPool{Name: "p2"},
		layers.Flatten{Name: "f"},
		layers.Dense{Name: "d1", Units: 128, Activation: layers.ReLUAct},
		layers.Dense{Name: "d", Units: 10},
	}}
}

// MNISTCNNBN is MNISTCNN with each convolution followed by a BatchNorm and
// a ReLU layer instead of a bias and fused ReLU; with FoldBatchNorm the
// pairs train folded.
func MNISTCNNBN(scheme *qat.Scheme, fold bool) Model {
	return Model{Input: []int64{28, 28, 1}, Scheme: scheme, FoldBatchNorm: fold, Layers: []layers.Layer{
		layers.Conv2D{Name: "c1", Filters: 32, Kernel: [2]int{3, 3}, NoBias: true},
		layers.BatchNorm{Name: "bn1"},
		layers.ReLU{Name: "r1"},
		layers.MaxPool{Name: "p1"},
		layers.Conv2D{Name: "c2", Filters: 64, Kernel: [2]int{3, 3}, NoBias: true},
		layers.BatchNorm{Name: "bn2"},
		layers.ReLU{Name: "r2"},
		layers.MaxPool{Name: "p2"},
		layers.Flatten{Name: "f"},
		layers.Dense{Name: "d1", Units: 128, Activation: layers.ReLUAct},
		layers.Dense{Name: "d", Units: 10},
	}}
}
