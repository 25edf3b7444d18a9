// Package models defines layers that emit fake-quantized graph pieces
// (Dense, Conv2D, DepthwiseConv2D, pools, Flatten, ReLU, BatchNorm and the
// folded Conv+BatchNorm, and the article's QuantizedDense), the Model that
// stacks them under a qat.Scheme, ready-made models (MLP, SmallCNN,
// MNISTCNN, the article's examples), the loss, the YAML config, and data:
// synthetic data as in the article, .npz files and seeded mini-batches.
// Package models/mnist provides the MNIST digits.
package models
