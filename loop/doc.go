// Package loop trains models built with tfgraph: optimizers as TensorFlow
// update ops, a train step that is one Session.Run returning the loss and
// applying every update, and a loop that runs steps and reports each one.
package loop
