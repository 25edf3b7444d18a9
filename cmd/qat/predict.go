package main

import (
	"bufio"
	"fmt"
	"strconv"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/infer"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
	"github.com/spf13/cobra"
)

type predictFlags struct {
	model, data, out, output, numerics string
	scale                              string
	batch, threads                     int
}

func newPredict() *cobra.Command {
	f := &predictFlags{}
	c := &cobra.Command{
		Use:   "predict",
		Short: "Logits or classes for an .npz, from a run folder or a SavedModel",
		Long: `Run a trained model on the examples x [N, input...] of --data and give its
logits (float32 [N, classes]) or classes (the argmax of each row, int64 [N]).
--model is a qat train output folder (config.yaml, weights.npz, ranges.npz:
the trainer's inference graph, fake quant on with the trained ranges) or a
SavedModel folder (qat export's, or any qat eval takes). For a run and its
export the logits are the same bit for bit.

With --out the predictions go to that .npz (key "logits" or "classes",
written atomically) and a one-line summary to stdout. Without --out they go
to stdout, one line per example: the class id, or the logits separated by
spaces (each printed so that it reads back as the same float32).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return predict(c, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.model, "model", "", "a run `folder` or a SavedModel folder (required)")
	fl.StringVar(&f.data, "data", "", "an .npz `file` with x [N, input...] (required)")
	fl.StringVar(&f.out, "out", "", "write the predictions to this .npz `file` (default: print them)")
	fl.StringVar(&f.output, "output", string(infer.Logits), "what to give: `logits` or classes")
	fl.StringVar(&f.scale, "scale", "", "multiply x by this `number` (e.g. 1/255; required for uint8 x)")
	fl.IntVar(&f.batch, "batch", infer.DefaultBatch, "examples per session run")
	fl.IntVar(&f.threads, "threads", 1, "TensorFlow intra-op threads")
	fl.StringVar(&f.numerics, "numerics", "graph", "whose bits to reproduce: `graph` (tf.function, Python's loaded SavedModels) or eager (eager TensorFlow)")
	return c
}

func predict(c *cobra.Command, f *predictFlags) error {
	switch {
	case f.model == "":
		return fmt.Errorf("--model is required: a run folder or a SavedModel folder")
	case f.data == "":
		return fmt.Errorf("--data is required: an .npz file with x [N, input...]")
	case f.batch < 1:
		return fmt.Errorf("--batch %d: want at least 1", f.batch)
	case f.threads < 1:
		return fmt.Errorf("--threads %d: want at least 1", f.threads)
	}
	output, err := infer.ParseOutput(f.output)
	if err != nil {
		return fmt.Errorf("--%w", err)
	}
	numerics, err := tfgraph.ParseNumerics(f.numerics)
	if err != nil {
		return fmt.Errorf("--%w", err)
	}
	scale, err := parseScaleFlag(c, f.scale)
	if err != nil {
		return err
	}
	x, err := models.ReadX(f.data, scale)
	if err != nil {
		return err
	}
	m, err := infer.Open(f.model, tfgraph.SessionConfig{IntraOpThreads: f.threads, InterOpThreads: tfgraph.InlineOps, Numerics: numerics})
	if err != nil {
		return err
	}
	defer m.Close()
	logits, err := m.Predict(x, f.batch)
	if err != nil {
		return fmt.Errorf("predict %s on %s: %w", f.model, f.data, err)
	}
	if f.out != "" {
		if err := infer.Write(f.out, logits, output); err != nil {
			return err
		}
		what := fmt.Sprintf("logits float32 %v", logits.Shape)
		if output == infer.ClassIDs {
			what = fmt.Sprintf("classes int64 [%d]", logits.Shape[0])
		}
		fmt.Fprintf(c.OutOrStdout(), "wrote %s: %s for %d examples of %s (%s %s, %s numerics)\n",
			f.out, what, logits.Shape[0], f.data, kindName(m.Kind()), f.model, numerics)
		return nil
	}
	return printPredictions(c, logits, output)
}

func kindName(k infer.Kind) string {
	if k == infer.SavedModel {
		return "SavedModel"
	}
	return "run folder"
}

// printPredictions writes one line per example: its class id, or its
// logits separated by spaces.
func printPredictions(c *cobra.Command, logits data.Array, output infer.Output) error {
	w := bufio.NewWriter(c.OutOrStdout())
	if output == infer.ClassIDs {
		ids, err := infer.Classes(logits)
		if err != nil {
			return err
		}
		for _, id := range ids {
			fmt.Fprintln(w, id)
		}
		return w.Flush()
	}
	cols := 1
	for _, d := range logits.Shape[1:] {
		cols *= int(d)
	}
	var line []byte
	for i := 0; i < int(logits.Shape[0]); i++ {
		line = line[:0]
		for j, v := range logits.Data[i*cols : (i+1)*cols] {
			if j > 0 {
				line = append(line, ' ')
			}
			line = strconv.AppendFloat(line, float64(v), 'g', -1, 32)
		}
		line = append(line, '\n')
		w.Write(line)
	}
	return w.Flush()
}
