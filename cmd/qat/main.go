// Command qat trains quantization-aware models with TensorFlow's C API.
//
//	qat train --example 3 --out out/run    # the article's Example 3
//	qat train --config run.yaml            # a model described in YAML
//	qat report out/run                     # out/run/report.html and its PNGs
//	qat export --from out/run              # SavedModel of a trained model
//	qat eval --saved-model out/run/saved_model      # its accuracy on MNIST
//	qat convert --saved-model out/run/saved_model   # int8 TFLite
//	qat import model.keras --out out/imported       # a Keras model as config + weights
//	qat predict --model out/run --data x.npz        # logits (or --output classes)
//	qat inspect out/run                             # layers, quantizers, op counts
//	qat serve --model_base_path models/mnist --rest_api_port 8501  # TF Serving API
//	qat worker                                      # one task of a TensorFlow cluster (TF_CONFIG)
//	qat version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/qat-go/qat/tfgraph"
	_ "github.com/qat-go/qat/tfquiet" // TensorFlow's start-up log lines only at TF_CPP_MIN_LOG_LEVEL
	tf "github.com/wamuir/graft/tensorflow"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var got atomic.Int32
	go func() {
		s := <-sigs
		got.Store(int32(s.(syscall.Signal)))
		signal.Reset(os.Interrupt, syscall.SIGTERM) // a second one kills at once
		cancel()
	}()
	if err := tfgraph.KeepFreedMemory(); err != nil {
		fmt.Fprintf(os.Stderr, "qat: warning: %v (training runs, with more page faults)\n", err)
	}
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if s := got.Load(); s != 0 {
		// What shells expect of a program stopped by a signal: 130 for
		// Ctrl-C (SIGINT), 143 for SIGTERM, after saving what it can.
		code = 128 + int(s)
	}
	os.Exit(code)
}

// run executes the command line args and returns the exit code; errors are
// printed to stderr as "qat: <message>".
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "qat: %v\n", err)
		return 1
	}
	return 0
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "qat",
		Short:         "Quantization-aware training over TensorFlow's C API",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentPreRunE = rejectEmpty
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(newTrain(), newReport(), newExport(), newEval(), newPredict(), newInspect(), newConvert(), newImport(), newServe(), newWorker(), &cobra.Command{
		Use:   "version",
		Short: "Print the TensorFlow version qat runs on",
		Args:  cobra.NoArgs,
		Run: func(c *cobra.Command, _ []string) {
			fmt.Fprintf(c.OutOrStdout(), "qat on TensorFlow %s\n", tf.Version())
		},
	})
	return root
}
