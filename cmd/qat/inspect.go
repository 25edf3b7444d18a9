package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/qat-go/qat/inspect"
	"github.com/spf13/cobra"
)

func newInspect() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "inspect DIR|SAVED_MODEL",
		Short: "Show a trained model: layers, quantizers (bits, range, scale, zero point), parameters, op counts",
		Long: `Describe the model in a run folder (config.yaml, weights.npz, ranges.npz)
or a SavedModel folder: layer by layer its name, type, output shape and
parameter count; every quantizer (FakeQuant op) with its bits, narrow range,
per-channel and symmetric grid, its range and the scale and zero point
TensorFlow's FakeQuant kernels nudge it to (per-channel values as min..max;
--json has every channel); the total parameter count; and the op types of
the TensorFlow graph the output depends on (for a run folder the inference
graph built from config.yaml, for a SavedModel saved_model.pb's GraphDef).
--json prints the same as JSON (the schema is package inspect's Report).`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := inspect.Inspect(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				b, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(c.OutOrStdout(), "%s\n", b)
				return err
			}
			return printReport(c.OutOrStdout(), r)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

// printReport writes r as aligned tables.
func printReport(out io.Writer, r *inspect.Report) error {
	kind := "run folder"
	if r.Kind == "saved_model" {
		kind = "SavedModel"
	}
	fmt.Fprintf(out, "%s (%s): input %s, output %s\n\n", r.Path, kind, dims(r.Input), dims(r.Output))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "LAYER\tTYPE\tOUTPUT\tPARAMS")
	for _, l := range r.Layers {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", l.Name, l.Type, dims(l.Output), l.Parameters)
	}
	fmt.Fprintf(w, "total\t\t\t%d\n", r.Parameters)
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%d quantizers\n", len(r.Quantizers))
	if len(r.Quantizers) > 0 {
		w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "QUANTIZER\tKIND\tBITS\tNARROW\tSYMMETRIC\tCHANNELS\tMIN\tMAX\tSCALE\tZERO POINT")
		for _, q := range r.Quantizers {
			channels := "tensor"
			if q.PerChannel {
				channels = strconv.Itoa(q.Channels)
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%v\t%v\t%s\t%s\t%s\t%s\t%s\n", q.Name, q.Kind, q.Bits, q.NarrowRange, q.Symmetric, channels,
				span(q.Min), span(q.Max), span(q.Scale), span(q.ZeroPoint))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\n%d ops the output depends on, of %d nodes in the %s:\n", r.Ops.Total, r.Ops.Nodes, r.Ops.Graph)
	types := make([]string, 0, len(r.Ops.Counts))
	for t := range r.Ops.Counts {
		types = append(types, t)
	}
	slices.SortFunc(types, func(a, b string) int {
		if d := r.Ops.Counts[b] - r.Ops.Counts[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, t := range types {
		fmt.Fprintf(w, "  %s\t%d\n", t, r.Ops.Counts[t])
	}
	return w.Flush()
}

func dims(d []int64) string {
	if d == nil {
		return "?"
	}
	s := make([]string, len(d))
	for i, v := range d {
		s[i] = strconv.FormatInt(v, 10)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// span prints one value, or the smallest..largest of several (channels).
func span[T float32 | int64](v []T) string {
	if len(v) == 0 {
		return "-"
	}
	lo, hi := slices.Min(v), slices.Max(v)
	if lo == hi {
		return num(lo)
	}
	return num(lo) + ".." + num(hi)
}

func num[T float32 | int64](v T) string {
	switch x := any(v).(type) {
	case float32:
		return strconv.FormatFloat(float64(x), 'g', 6, 32)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}
