// Package layers defines the layers a model is made of. Each layer checks
// its settings and input shape, makes its variables through a Builder and
// adds its forward graph, fake-quantizing its weights and output where the
// Builder's qat.Scheme says: Dense, Conv2D, DepthwiseConv2D, MaxPool,
// AvgPool, Flatten, ReLU and ReLU6, BatchNorm, the folded Conv+BatchNorm
// and the article's QuantizedDense.
//
// The Builder carries what layers share while a graph is built: the
// quantization Env, the scheme, initial values and the variables made so
// far, so that building a model twice (training, then inference) shares
// its variables. Package models decides the order and wiring.
package layers
