package inspect_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/qat-go/qat/inspect"
	"github.com/qat-go/qat/internal/runtest"
)

// Describe a trained model from its run folder (here a small CNN with
// 8-bit QAT and 4-bit dense weights, trained for 20 steps): its layers,
// its quantizers and its graph.
func ExampleInspect() {
	parent, err := os.MkdirTemp("", "qat-inspect")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(parent)
	dir := filepath.Join(parent, "run")
	if _, _, err := runtest.Write(dir, runtest.SmallCNN); err != nil {
		log.Fatal(err)
	}

	r, err := inspect.Inspect(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range r.Layers {
		fmt.Println(l.Name, l.Type, l.Output, l.Parameters)
	}
	fmt.Println("parameters:", r.Parameters)
	for _, q := range r.Quantizers {
		fmt.Printf("%s: %s, %d bits, %d channel(s), symmetric %v\n", q.Name, q.Kind, q.Bits, q.Channels, q.Symmetric)
	}
	fmt.Println("Conv2D ops:", r.Ops.Counts["Conv2D"], "FakeQuant ops:", r.Ops.Counts["FakeQuantWithMinMaxVars"]+r.Ops.Counts["FakeQuantWithMinMaxVarsPerChannel"])
	// Output:
	// conv1 conv2d [6 6 4] 36
	// bn1 batch_norm [6 6 4] 16
	// relu1 relu [6 6 4] 0
	// pool1 max_pool [3 3 4] 0
	// flat flatten [36] 0
	// fc dense [5] 185
	// parameters: 237
	// quantize_layer/quantize_layer: input, 8 bits, 1 channel(s), symmetric false
	// conv1/kernel: weights, 8 bits, 4 channel(s), symmetric true
	// relu1/post_activation: activations, 8 bits, 1 channel(s), symmetric false
	// fc/kernel: weights, 4 bits, 1 channel(s), symmetric false
	// fc/post_activation: activations, 8 bits, 1 channel(s), symmetric false
	// Conv2D ops: 1 FakeQuant ops: 5
}
