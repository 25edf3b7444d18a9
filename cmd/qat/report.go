package main

import (
	"fmt"
	"path/filepath"

	"github.com/qat-go/qat/report"
	"github.com/spf13/cobra"
)

func newReport() *cobra.Command {
	return &cobra.Command{
		Use:   "report DIR",
		Short: "Draw a run folder as DIR/report.html with PNG figures",
		Long: `Rebuild the report qat train writes at the end of a run: DIR/report.html
and its PNGs in DIR/report/, made from the run's files alone:
  - the loss per step (losses.csv), and per epoch the training and
    validation loss and accuracy (history.csv, when the run has one);
  - each quantizer's min and max over the steps (ranges.csv; per-channel
    quantizers as the lowest min and highest max of their channels);
  - per layer, a histogram of the float weights (weights.npz) with the
    quantizer's grid of levels over it (the last range in ranges.npz and
    the bits and narrow range of config.yaml's scheme, nudged as
    TensorFlow's FakeQuant kernels nudge it) and how many levels are used;
  - the test accuracies of metrics.json (MNIST runs).
The page shows every figure's numbers as text too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pg, err := report.Write(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote %s with %d figures\n", filepath.Join(args[0], "report.html"), len(pg.Figures))
			return nil
		},
	}
}
