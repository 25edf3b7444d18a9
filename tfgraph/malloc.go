package tfgraph

// #include <malloc.h>
// #include <stdlib.h>
import "C"

import "fmt"

// The malloc settings KeepFreedMemory sets, named once.
const (
	// MallocMmapThreshold is the size from which glibc's malloc maps each
	// allocation on its own (and unmaps it when freed): 32 MiB, the top of
	// the range glibc's own adaptive threshold moves in on 64-bit Linux.
	MallocMmapThreshold = 32 << 20
	// MallocTrimThreshold is how much free memory may sit at the top of a
	// malloc heap before glibc hands it back to the kernel: 1 GiB.
	MallocTrimThreshold = 1 << 30
)

// KeepFreedMemory sets glibc's malloc, for the whole process, to keep the
// memory TensorFlow frees between Session.Runs instead of handing it back
// to the kernel: buffers up to MallocMmapThreshold come from the heap, and
// free heap is kept up to MallocTrimThreshold. Call it once, early in
// main; qat's commands and the benchmark's Go worker do. The process's
// resident memory then stays at its peak instead of falling after each
// step. The same settings without code: GLIBC_TUNABLES=
// glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824.
//
// Why: TensorFlow allocates each step's activations and gradients with
// malloc and frees them when the step ends. With glibc's adaptive
// thresholds a training process often returns that memory at the end of
// a step and takes it back, page by page, in the next: on the benchmark's
// MNIST CNN at one thread, 2,200-3,400 page faults a step (9-13 MB of
// pages the kernel zeroes), 23% of the profile in the OS kernel. Setting
// both thresholds (glibc stops adapting either once one is set, so both
// must be) brought that to 70-220 faults a step.
func KeepFreedMemory() error {
	for _, o := range []struct {
		name  string
		param C.int
		value int
	}{
		{"M_MMAP_THRESHOLD", C.M_MMAP_THRESHOLD, MallocMmapThreshold},
		{"M_TRIM_THRESHOLD", C.M_TRIM_THRESHOLD, MallocTrimThreshold},
	} {
		if C.mallopt(o.param, C.int(o.value)) != 1 {
			return fmt.Errorf("malloc: mallopt(%s, %d) was refused", o.name, o.value)
		}
	}
	return nil
}

// mallocMaps reports whether glibc's malloc maps an allocation of size
// bytes on its own rather than taking it from a heap (for the tests,
// which cannot use cgo themselves).
func mallocMaps(size int) bool {
	before := C.mallinfo2().hblkhd
	p := C.malloc(C.size_t(size))
	defer C.free(p)
	return C.mallinfo2().hblkhd > before
}
