package tfgraph

// #include "tensorflow/c/c_api.h"
import "C"

import (
	"runtime"
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
)

// graftTensor is the layout of graft's tensorflow.Tensor (v0.10.0, the
// pinned version): the C tensor it owns and its shape. TestReleaseLayout
// checks it against TensorFlow's C API, so a graft that changes it fails
// the tests instead of freeing the wrong memory.
type graftTensor struct {
	c     *C.TF_Tensor
	shape []int64
}

// Release frees the TensorFlow buffers of ts now instead of when Go's
// garbage collector finalizes them, and is a no-op for nil or released
// tensors. A released tensor must not be used again.
//
// graft frees a tensor's buffer only in its finalizer, and Go's collector
// does not count that C memory: the tensors a loop makes for every
// Session.Run (its feeds, its fetches once copied out) pile up between
// collections, hundreds of megabytes of fresh pages the kernel has to
// zero. Code that owns such a tensor and is done with it releases it.
func Release(ts ...*tf.Tensor) {
	for _, t := range ts {
		if t == nil {
			continue
		}
		g := (*graftTensor)(unsafe.Pointer(t))
		if g.c == nil {
			continue
		}
		runtime.SetFinalizer(t, nil)
		C.TF_DeleteTensor(g.c)
		g.c = nil
	}
}

// cTensor returns the C tensor t owns, for TestReleaseLayout.
func cTensor(t *tf.Tensor) (dims []int64, bytes int, data []byte) {
	c := (*graftTensor)(unsafe.Pointer(t)).c
	if c == nil {
		return nil, 0, nil
	}
	for i := range int(C.TF_NumDims(c)) {
		dims = append(dims, int64(C.TF_Dim(c, C.int(i))))
	}
	bytes = int(C.TF_TensorByteSize(c))
	return dims, bytes, C.GoBytes(C.TF_TensorData(c), C.int(bytes))
}
