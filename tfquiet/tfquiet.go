// Package tfquiet keeps TensorFlow's start-up log lines off stderr.
//
// libtensorflow logs while the dynamic loader initialises it, before any
// Go code runs and before TensorFlow reads TF_CPP_MIN_LOG_LEVEL, so every
// program linked with it prints lines such as "oneDNN custom operations
// are on" and "Could not find cuda drivers" even for --help. A program
// that imports this package (for its side effect, as cmd/qat does):
//
//	import _ "github.com/qat-go/qat/tfquiet"
//
// runs with TF_CPP_MIN_LOG_LEVEL=1 (warnings and errors) unless the
// environment sets a level (the program starts itself again with it, at
// once, since TensorFlow reads the level only while it initialises),
// holds stderr while the shared libraries initialise,
// and then writes back the lines that the level lets through: level 0
// shows everything, 1 drops INFO lines, 2 WARNING ones too, 3 ERROR ones
// too. Lines that are not TensorFlow log lines always pass. TensorFlow
// honours the level itself for everything it logs later.
package tfquiet

/*
#cgo CFLAGS: -O2
#include "tfquiet.h"
*/
import "C"

import "os"

// startedVar marks the process that the C side started again with the
// level set, so that it never starts itself a second time; Go keeps its
// own copy of the environment, so the mark is removed here too, for the
// program's children.
const startedVar = "QAT_TFQUIET_STARTED"

func init() { os.Unsetenv(startedVar) }

// Level returns the TF_CPP_MIN_LOG_LEVEL that was in force when the
// start-up lines were filtered (1 unless the environment said otherwise).
func Level() int { return int(C.tfquiet_level()) }
