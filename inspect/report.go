package inspect

import "github.com/qat-go/qat/infer"

// Report is what Inspect finds. Its JSON (`qat inspect --json`) uses the
// field tags below; fields are only ever added.
type Report struct {
	// Path is the folder inspected and Kind "run" or "saved_model".
	Path string     `json:"path"`
	Kind infer.Kind `json:"kind"`
	// Input and Output are the shapes of one example and of its output.
	Input  []int64 `json:"input"`
	Output []int64 `json:"output"`
	Layers []Layer `json:"layers"`
	// Parameters is the sum of the layers' parameters.
	Parameters int64       `json:"parameters"`
	Quantizers []Quantizer `json:"quantizers"`
	Ops        Ops         `json:"ops"`
}

// Layer is one layer of the model.
type Layer struct {
	Name string `json:"name"`
	// Type is the config's layer type (run folders) or the main
	// TensorFlow op of the layer's name scope (SavedModels).
	Type string `json:"type"`
	// Output is the per-example output shape (-1 where unknown).
	Output []int64 `json:"output"`
	// Parameters counts the values of the layer's variables (weights,
	// biases, batch-norm statistics), not its quantizer ranges.
	Parameters int64 `json:"parameters"`
}

// Quantizer is one fake-quantization op of the graph. The per-channel
// fields (Min to ZeroPoint) hold one value per channel, or one for a
// per-tensor quantizer.
type Quantizer struct {
	// Name is the range variable's name without "_min" (e.g.
	// "conv1/kernel"), or the op's name scope for a constant range.
	Name string `json:"name"`
	// Op is the FakeQuant op's name, Input the tensor it quantizes.
	Op    string `json:"op"`
	Input string `json:"input"`
	// Kind is "input" for the model's input, "weights" for a tensor that
	// does not depend on the input (a weight, possibly folded), otherwise
	// "activations".
	Kind        string `json:"kind"`
	Bits        int    `json:"bits"`
	NarrowRange bool   `json:"narrow_range"`
	PerChannel  bool   `json:"per_channel"`
	// Symmetric is true when every channel's zero point is the middle of
	// the grid, 2^(bits-1) (int8 zero point 0): the grid of tfmot's
	// symmetric weight quantizers.
	Symmetric bool `json:"symmetric"`
	Channels  int  `json:"channels"`
	// Min and Max are the stored range; NudgedMin and NudgedMax the range
	// the kernel uses (zero on the grid).
	Min       []float32 `json:"min"`
	Max       []float32 `json:"max"`
	NudgedMin []float32 `json:"nudged_min"`
	NudgedMax []float32 `json:"nudged_max"`
	// Scale is the grid step and ZeroPoint the integer 0.0 falls on, in
	// QuantMin..QuantMax (0..2^bits-1, or 1.. for a narrow range; subtract
	// 2^(bits-1) for the signed integer zero point TFLite's int8 uses).
	Scale     []float32 `json:"scale"`
	ZeroPoint []int64   `json:"zero_point"`
	QuantMin  int64     `json:"quant_min"`
	QuantMax  int64     `json:"quant_max"`
}

// Ops counts the TensorFlow ops of the model's graph.
type Ops struct {
	// Graph says which graph was counted.
	Graph string `json:"graph"`
	// Counts are the ops the output depends on, by op type; Total their
	// sum.
	Counts map[string]int `json:"counts"`
	Total  int            `json:"total"`
	// Nodes is every node of the graph, including initializers and the
	// saver's ops.
	Nodes int `json:"nodes"`
}
