package inspect

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/qat-go/qat/infer"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/core/framework/graph_go_proto"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// The graphs Ops.Graph names.
const (
	RunGraph   = "inference graph built from config.yaml (as loop.Evaluator runs it and qat export writes it)"
	SavedGraph = "GraphDef of saved_model.pb's MetaGraphDef tagged serve"
)

// session is how Inspect runs TensorFlow to read ranges: one thread.
var session = tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps}

// Inspect describes the model in the run folder or SavedModel at path.
// A path that is neither is an error saying what it lacks.
func Inspect(path string) (*Report, error) {
	k, err := infer.Detect(path)
	if err != nil {
		return nil, err
	}
	var r *Report
	if k == infer.SavedModel {
		r, err = inspectSaved(path)
	} else {
		r, err = inspectRun(path)
	}
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	r.Path, r.Kind = path, k
	for _, l := range r.Layers {
		r.Parameters += l.Parameters
	}
	return r, nil
}

func inspectRun(dir string) (*Report, error) {
	run, err := infer.LoadRun(dir)
	if err != nil {
		return nil, err
	}
	m := run.Model
	inf, err := models.BuildInference(m, "x", run.Weights, run.Ranges)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := inf.Graph.TF().WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	def := &graph_go_proto.GraphDef{}
	if err := proto.Unmarshal(buf.Bytes(), def); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	v, err := newView(inf.Graph.TF(), def, inf.X.Op.Name(), inf.Logits.Op.Name())
	if err != nil {
		return nil, err
	}
	sess, err := tfgraph.NewSession(inf.Graph, session)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{inf.Graph.InitOp()}); err != nil {
		return nil, fmt.Errorf("initialise: %w", err)
	}
	qs, _, err := v.quantizers(func(names []string) ([][]float32, error) {
		outs := make([]tf.Output, len(names))
		for i, n := range names {
			if outs[i], err = tensorOf(inf.Graph.TF(), n); err != nil {
				return nil, err
			}
		}
		res, err := sess.Run(nil, outs, nil)
		if err != nil {
			return nil, err
		}
		return floats(res)
	})
	if err != nil {
		return nil, err
	}
	shapes, err := m.Shapes()
	if err != nil {
		return nil, err
	}
	out, err := m.OutputShape()
	if err != nil {
		return nil, err
	}
	r := &Report{Input: slices.Clone(m.Input), Output: out, Quantizers: qs, Ops: v.ops(RunGraph)}
	for i, l := range m.Layers {
		typ := run.Config.Layers[i].Type
		if typ == "" {
			typ = models.TypeQuantizedDense
		}
		layer := Layer{Name: l.LayerName(), Type: typ, Output: shapes[i]}
		for _, vr := range inf.Variables {
			if strings.HasPrefix(vr.Name, layer.Name+"/") {
				layer.Parameters += int64(len(run.Weights[vr.Name].Data))
			}
		}
		r.Layers = append(r.Layers, layer)
	}
	return r, nil
}

func inspectSaved(dir string) (*Report, error) {
	b, err := os.ReadFile(filepath.Join(dir, "saved_model.pb"))
	if err != nil {
		return nil, err
	}
	sm := &pb.SavedModel{}
	if err := proto.Unmarshal(b, sm); err != nil {
		return nil, fmt.Errorf("saved_model.pb: %w", err)
	}
	var def *graph_go_proto.GraphDef
	for _, mg := range sm.GetMetaGraphs() {
		if slices.Contains(mg.GetMetaInfoDef().GetTags(), savedmodel.Tag) {
			def = mg.GetGraphDef()
			break
		}
	}
	if def == nil {
		return nil, fmt.Errorf("saved_model.pb has no MetaGraphDef tagged %q", savedmodel.Tag)
	}
	m, err := savedmodel.Load(dir, session)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	raw, err := proto.Marshal(def)
	if err != nil {
		return nil, err
	}
	g := tf.NewGraph()
	if err := g.Import(raw, ""); err != nil {
		return nil, fmt.Errorf("import the GraphDef: %w", err)
	}
	in, out := m.Tensors()
	v, err := newView(g, def, in, out)
	if err != nil {
		return nil, err
	}
	qs, rangeVars, err := v.quantizers(func(names []string) ([][]float32, error) {
		res, err := m.Fetch(names...)
		if err != nil {
			return nil, err
		}
		return floats(res)
	})
	if err != nil {
		return nil, err
	}
	r := &Report{Input: m.Input(), Output: v.shape(out), Quantizers: qs, Ops: v.ops(SavedGraph), Layers: v.scopeLayers(rangeVars)}
	return r, nil
}

func floats(ts []*tf.Tensor) ([][]float32, error) {
	out := make([][]float32, len(ts))
	for i, t := range ts {
		v, err := tfgraph.Float32s(t)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
