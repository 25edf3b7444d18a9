// Package models defines layers that emit fake-quantized graph pieces, the
// models built from them (the article's three examples, and models described
// by a config file), the loss, and data sets (synthetic data as in the
// article, and user data from .npz files).
package models
