// Package models wires layers into a model: the Model (its input, its
// layers and the qat.Scheme that quantizes it), where quantizers go
// between layers (tfmot's placement rules, in one place), the model's
// graph for training and inference, its memory footprint, ready-made
// models (MLP, SmallCNN, MNISTCNN, the article's examples), the Keras loss
// and the YAML config that describes a model and its run.
//
// Layers live in package layers; datasets, batches and .npz files in
// package data.
package models
