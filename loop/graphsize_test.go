package loop

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/qat-go/qat/models"
	gpb "github.com/wamuir/graft/tensorflow/core/framework/graph_go_proto"
	"google.golang.org/protobuf/proto"
)

// deepMLP is a config of n dense(4) ReLU layers and a dense(2) head with
// tfmot's default 8-bit scheme.
func deepMLP(n int) string {
	var b strings.Builder
	b.WriteString("inputs: 4\nsteps: 1\nbatch_size: 8\ndata: {examples: 64}\n" +
		"scheme: {default: {weight_bits: 8, activation_bits: 8}}\nlayers:\n")
	for range n {
		b.WriteString("  - {type: dense, units: 4, activation: relu}\n")
	}
	b.WriteString("  - {type: dense, units: 2}\n")
	return b.String()
}

// deepTrainer builds a trainer of deepMLP(n) with lc, in batches of 8.
func deepTrainer(t *testing.T, n int, lc Config) (*Trainer, error) {
	t.Helper()
	cfg, err := models.ParseConfig(strings.NewReader(deepMLP(n)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Model()
	if err != nil {
		t.Fatal(err)
	}
	data, err := cfg.Dataset()
	if err != nil {
		t.Fatal(err)
	}
	lc.BatchSize = cfg.BatchSize
	return NewTrainer(m, data, nil, lc)
}

// graphSize counts a trainer's graph nodes and its data and control edges.
func graphSize(t *testing.T, tr *Trainer) (nodes, data, control int) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := tr.graph.TF().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	def := &gpb.GraphDef{}
	if err := proto.Unmarshal(buf.Bytes(), def); err != nil {
		t.Fatal(err)
	}
	for _, n := range def.Node {
		nodes++
		for _, in := range n.Input {
			if strings.HasPrefix(in, "^") {
				control++
			} else {
				data++
			}
		}
	}
	return nodes, data, control
}

// TestGraphGrowsLinearly checks that the training graph of a deeper model
// grows in proportion to its layers, edges included. Adam's updates once
// each carried a control edge from every gradient, so control edges grew
// with the square of the layers (130,304 for 40 layers) and TensorFlow's
// graph passes with them: 100 layers took 37 s to build and step once,
// 1,000 were killed at 24 GB.
func TestGraphGrowsLinearly(t *testing.T) {
	size := map[int][3]int{}
	for _, n := range []int{10, 40} {
		start := time.Now()
		tr, err := deepTrainer(t, n, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		built := time.Since(start)
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
		tr.Close()
		nodes, dataEdges, ctrl := graphSize(t, tr)
		size[n] = [3]int{nodes, dataEdges, ctrl}
		t.Logf("%d layers: %d nodes, %d data edges, %d control edges; built in %v, first step after %v",
			n, nodes, dataEdges, ctrl, built.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}
	for i, what := range []string{"nodes", "data edges", "control edges"} {
		small, big := size[10][i], size[40][i]
		// 41 layers against 11: linear growth gives at most 41/11 = 3.7x.
		if ratio := float64(big) / float64(small); ratio > 4 {
			t.Errorf("%s grow %.1fx from 10 to 40 layers (%d -> %d): more than linear", what, ratio, small, big)
		}
	}
}
