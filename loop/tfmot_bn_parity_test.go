package loop_test

import (
	"testing"

	"github.com/qat-go/qat/data/mnist"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

// TestTFMOTModelParity trains each model for 30 steps in Go with
// qat.TFMOT8Bit and with tfmot.quantization.keras.quantize_model +
// tf_keras Adam (third_party/reference/tfmot_reference.py), eagerly and in
// graph mode (a tf.function step, Keras's train_on_batch) against the Go
// trainer in eager and graph numerics, and expects every step's loss,
// every final variable (weights, batch-norm gamma, beta and moving
// statistics, quantizer ranges) and the inference logits bit-identical:
//   - batch norm on 2-D input (Keras's non-fused path: tf.nn.moments,
//     tf.nn.batch_normalization, AssignSub updates) and on 4-D inputs
//     (the fused path: FusedBatchNormV3, FusedBatchNormGradV3, the moving
//     statistics averaged inside the kernel); tfmot gives the depthwise
//     kernel one range (issue 808);
//   - a MobileNetV2 inverted residual block and a ResNet basic block, each
//     after a strided Conv-BN-ReLU stem with a Flatten-Dense(10) head:
//     graphs, whose block input also feeds the Add;
//   - tfmot's own placements, which qat.TFMOT8Bit reproduces: a kernel kept
//     in float before a separate ReLU (TFMOTCompat.FloatKernelBeforeReLU),
//     and Dense-BatchNorm-ReLU quantizing the batch norm's output too
//     (TFMOTCompat.BatchNormOutputAfterDense).
func TestTFMOTModelParity(t *testing.T) {
	train, _, err := mnist.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		model func(*qat.Scheme) models.Model
	}{
		{"mlp_bn", mlpBN},
		{"cnn_bn", cnnBN},
		{"mobilenet_block", mobileNetBlock},
		{"mobilenetv2_block", mobileNetV2Block},
		{"resnet_block", resNetBlock},
		{"cnn_relu", cnnReLU},
		{"mlp_bn_relu", mlpBNReLU},
	} {
		for _, mode := range parityModes() {
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				tfmotParity(t, train, c.name, mode, c.model(qat.TFMOT8Bit()), 30, 0)
			})
		}
	}
}

// mlpBN is the reference script's mlp_bn: Dense(64)-BN-Dense(32, relu)-
// Dense(10), batch norm on 2-D input (Keras's non-fused path).
func mlpBN(s *qat.Scheme) models.Model {
	return models.Model{Input: []int64{784}, Scheme: s, Layers: []layers.Layer{
		layers.Dense{Name: "d1", Units: 64},
		layers.BatchNorm{Name: "bn1"},
		layers.Dense{Name: "d2", Units: 32, Activation: layers.ReLUAct},
		layers.Dense{Name: "d3", Units: 10},
	}}
}

// cnnBN is the reference script's cnn_bn: Conv(8, no bias)-BN-ReLU-MaxPool-
// Conv(16)-BN-ReLU-Flatten-Dense(10).
func cnnBN(s *qat.Scheme) models.Model {
	return models.Model{Input: []int64{28, 28, 1}, Scheme: s, Layers: []layers.Layer{
		layers.Conv2D{Name: "c1", Filters: 8, Kernel: [2]int{3, 3}, NoBias: true},
		layers.BatchNorm{Name: "bn1"},
		layers.ReLU{Name: "r1"},
		layers.MaxPool{Name: "p1"},
		layers.Conv2D{Name: "c2", Filters: 16, Kernel: [2]int{3, 3}},
		layers.BatchNorm{Name: "bn2"},
		layers.ReLU{Name: "r2"},
		layers.Flatten{Name: "f"},
		layers.Dense{Name: "d", Units: 10},
	}}
}

// mobileNetBlock is the reference script's mobilenet_block: Conv(8, 3x3,
// stride 2)-BN-ReLU6, DepthwiseConv(3x3)-BN-ReLU6, Conv(16, 1x1)-BN-ReLU6,
// then Flatten-Dense(10).
func mobileNetBlock(s *qat.Scheme) models.Model {
	return models.Model{Input: []int64{28, 28, 1}, Scheme: s, Layers: []layers.Layer{
		layers.Conv2D{Name: "c1", Filters: 8, Kernel: [2]int{3, 3}, Strides: [2]int{2, 2}, Padding: "same", NoBias: true},
		layers.BatchNorm{Name: "bn1"},
		layers.ReLU{Name: "r1", Max6: true},
		layers.DepthwiseConv2D{Name: "dw", Kernel: [2]int{3, 3}, Padding: "same", NoBias: true},
		layers.BatchNorm{Name: "bn2"},
		layers.ReLU{Name: "r2", Max6: true},
		layers.Conv2D{Name: "pw", Filters: 16, Kernel: [2]int{1, 1}, NoBias: true},
		layers.BatchNorm{Name: "bn3"},
		layers.ReLU{Name: "r3", Max6: true},
		layers.Flatten{Name: "f"},
		layers.Dense{Name: "d", Units: 10},
	}}
}
