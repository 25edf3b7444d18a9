// Command qat trains quantization-aware models with TensorFlow's C API.
//
//	qat train --example 3 --out out/run    # the article's Example 3
//	qat train --config run.yaml            # a model described in YAML
//	qat export --from out/run              # SavedModel of a trained model
//	qat eval --saved-model out/run/saved_model      # its accuracy on MNIST
//	qat convert --saved-model out/run/saved_model   # int8 TFLite
//	qat version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	_ "github.com/qat-go/qat/tfquiet" // TensorFlow's start-up log lines only at TF_CPP_MIN_LOG_LEVEL
	tf "github.com/wamuir/graft/tensorflow"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
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
	root.AddCommand(newTrain(), newExport(), newEval(), newConvert(), &cobra.Command{
		Use:   "version",
		Short: "Print the TensorFlow version qat runs on",
		Args:  cobra.NoArgs,
		Run: func(c *cobra.Command, _ []string) {
			fmt.Fprintf(c.OutOrStdout(), "qat on TensorFlow %s\n", tf.Version())
		},
	})
	return root
}
