package tfgraph_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// RunBatches gives the same values as one run over all rows, for batch
// sizes that divide the rows and that do not, and names bad input.
func TestRunBatches(t *testing.T) {
	g := tfgraph.NewGraph()
	x := g.Placeholder("x", tf.Float, []int64{-1, 2})
	y := g.Sum("y", g.Mul("double", x, g.Scalar("two", 2)), []int32{1}, true)
	sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	data := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, batch := range []int{1, 2, 3, 5, 100} {
		shape, got, err := tfgraph.RunBatches(sess, x, y, []int64{5, 2}, data, batch)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if want := []float32{6, 14, 22, 30, 38}; !slices.Equal(got, want) || !slices.Equal(shape, []int64{5, 1}) {
			t.Errorf("batch %d: %v %v, want [5 1] %v", batch, shape, got, want)
		}
	}
	for _, c := range []struct {
		name  string
		shape []int64
		data  []float32
		batch int
		want  string
	}{
		{"no batch axis", nil, []float32{1}, 2, "input has no batch axis"},
		{"too few values", []int64{5, 2}, data[:9], 2, "input shape [5 2] holds 10 values, got 9"},
		{"no rows", []int64{0, 2}, nil, 2, "input has no examples"},
		{"batch 0", []int64{5, 2}, data, 0, "batch size 0, want >= 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := tfgraph.RunBatches(sess, x, y, c.shape, c.data, c.batch)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// RunBatches checks every output's rows against its batch: a graph whose
// output has fewer rows than the batch, no batch axis, or rows that change
// shape from batch to batch is an error naming the examples, not values
// that a caller would index out of range.
func TestRunBatchesOutputShape(t *testing.T) {
	g := tfgraph.NewGraph()
	x := g.Placeholder("x", tf.Float, []int64{-1, 2})
	outputs := map[string]tf.Output{
		"column sums": g.Sum("column_sums", x, []int32{0}, true),                           // [1, 2]
		"total":       g.Sum("total", x, []int32{0, 1}, false),                             // []
		"gram":        g.MatMul("gram", x, x, false, true),                                 // [b, b]
		"flattened":   g.Reshape("flat", x, []int64{-1}),                                   // [2b]
		"rows":        g.Sum("rows", g.Mul("m", x, g.Scalar("k", 3)), []int32{0, 1}, true), // [1, 1]
	}
	sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	data := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		out   string
		batch int
		want  string
	}{
		{"column sums", 2, "examples 0..2: the output has shape [1 2]; want 2 rows, one per example"},
		{"total", 5, "examples 0..5: the output has shape []; want 5 rows, one per example"},
		{"gram", 2, "examples 4..5: the output has shape [1 1] but the batches before had rows of shape [2]"},
		{"flattened", 3, "examples 0..3: the output has shape [6]; want 3 rows, one per example"},
		{"rows", 1, ""},
		{"rows", 2, "examples 0..2: the output has shape [1 1]; want 2 rows"},
	} {
		t.Run(c.out, func(t *testing.T) {
			shape, vals, err := tfgraph.RunBatches(sess, x, outputs[c.out], []int64{5, 2}, data, c.batch)
			if c.want == "" {
				if err != nil || !slices.Equal(shape, []int64{5, 1}) || len(vals) != 5 {
					t.Fatalf("got %v %v, %v", shape, vals, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v %v, %v; want an error containing %q", shape, vals, err, c.want)
			}
		})
	}
}

// Session configs: the numerics modes by name, and each bad setting as an
// error that names it.
func TestSessionConfig(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     tfgraph.Numerics
		err      string
	}{
		{"default", "", tfgraph.GraphNumerics, ""},
		{"graph", "graph", tfgraph.GraphNumerics, ""},
		{"eager", "eager", tfgraph.EagerNumerics, ""},
		{"unknown", "fast", "", `numerics "fast": want "graph"`},
		{"case", "Graph", "", `numerics "Graph"`},
	} {
		t.Run("parse/"+c.name, func(t *testing.T) {
			got, err := tfgraph.ParseNumerics(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ParseNumerics(%q) = %v, %v; want error containing %q", c.in, got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParseNumerics(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
		})
	}
	for _, c := range []struct {
		name, xlaFlags string
		cfg            tfgraph.SessionConfig
		err            string
	}{
		{"zero", "", tfgraph.SessionConfig{}, ""},
		{"eager", "", tfgraph.SessionConfig{Numerics: tfgraph.EagerNumerics, IntraOpThreads: 2}, ""},
		{"xla", "--tf_xla_cpu_global_jit", tfgraph.SessionConfig{XLA: true}, ""},
		{"unknown numerics", "", tfgraph.SessionConfig{Numerics: "exact"}, `numerics "exact"`},
		{"inline ops", "", tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps}, ""},
		{"negative intra-op threads", "", tfgraph.SessionConfig{IntraOpThreads: -1}, "must not be negative"},
		{"inter-op threads below InlineOps", "", tfgraph.SessionConfig{InterOpThreads: -2}, "inter-op thread count -2"},
		{"xla eager", "--tf_xla_cpu_global_jit", tfgraph.SessionConfig{XLA: true, Numerics: tfgraph.EagerNumerics}, "use graph numerics with XLA"},
		{"xla without flag", "", tfgraph.SessionConfig{XLA: true}, "--tf_xla_cpu_global_jit in the environment variable TF_XLA_FLAGS"},
	} {
		t.Run("options/"+c.name, func(t *testing.T) {
			t.Setenv("TF_XLA_FLAGS", c.xlaFlags)
			_, err := c.cfg.Options()
			if c.err == "" && err != nil {
				t.Fatalf("Options() = %v", err)
			}
			if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("Options() = %v; want an error containing %q", err, c.err)
			}
		})
	}
}
