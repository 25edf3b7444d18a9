package tfgraph

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Why TensorFlow's threads block SIGPROF.
//
// Go's CPU profiler (runtime/pprof, and so net/http/pprof) arms a
// process-wide ITIMER_PROF whose SIGPROF the kernel delivers to whichever
// thread is running, TensorFlow's pool threads included. A signal handled
// on a TensorFlow intra-op thread while it runs oneDNN's AVX-512 sgemm
// kernels corrupts the C heap: glibc aborts with "corrupted size vs.
// prev_size" in free() called from oneDNN's sgemm driver. On an AVX-512
// machine, 5,000 profiled Example-3 steps abort in 8 of 10 runs; with a
// bare ITIMER_PROF and Go's handler in 6 of 10, and with a no-op C handler
// in place of Go's in 3 to 5 of 10, so the fault lies in how the
// interrupted kernel survives a signal frame, not in Go's handler; with
// oneDNN held to AVX2, or without the timer, none abort.
//
// A thread inherits its creator's signal mask. TensorFlow starts its
// threads when a graph is made (the shape refiner's graph runner) and when
// a session is opened or a SavedModel loaded (the device and executor
// pools), so doing those with SIGPROF blocked on the calling thread keeps
// the signal off every TensorFlow thread for the process's life. Go's own
// threads keep their per-thread profiling timers: profiles still show the
// Go side, and the time of calls into TensorFlow shows as cgo frames.

// WithProfSignalBlocked runs f on a locked OS thread with SIGPROF blocked,
// then restores the thread's signal mask, so that every thread TensorFlow
// starts inside f blocks SIGPROF for good. NewGraph and NewSession use it;
// code that opens TensorFlow sessions or graphs through graft directly
// (tf.LoadSavedModel, tf.NewGraph) should too.
func WithProfSignalBlocked(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set, old unix.Sigset_t
	set.Val[(unix.SIGPROF-1)/64] |= 1 << ((uint(unix.SIGPROF) - 1) % 64)
	// pthread_sigmask fails only for a bad "how" or address, neither
	// possible here; if it ever did, f still runs, merely unprotected.
	if unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old) == nil {
		defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	}
	f()
}
