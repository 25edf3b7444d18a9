package savedmodel

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/core/framework/graph_go_proto"
	"google.golang.org/protobuf/proto"
)

// The names an exported model uses.
const (
	// Tag is the MetaGraphDef's tag.
	Tag = "serve"
	// Signature is the signature key, with input InputName and output
	// OutputName.
	Signature  = "serving_default"
	InputName  = "x"
	OutputName = "logits"
	// VariablesPrefix is the checkpoint prefix inside the folder.
	VariablesPrefix = "variables/variables"
)

// Export writes m's inference graph with the given variable values to the
// new folder dir as a SavedModel. weights holds every model variable by
// name (Trainer.Weights), ranges every quantizer min/max (Trainer.Ranges).
// The folder is assembled under a temporary name beside dir and renamed
// when complete, so a failed export leaves nothing behind.
func Export(dir string, m models.Model, weights, ranges models.Weights) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("savedmodel: export folder %s already exists; remove it or choose another", dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("savedmodel: cannot write %s: %w", dir, err)
	}
	g, err := build(m, weights, ranges)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("savedmodel: cannot write beside %s: %w", dir, err)
	}
	if err := g.write(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("savedmodel: %w", err)
	}
	return syncDir(filepath.Dir(dir))
}

// graph is an inference graph with its saver ops.
type graph struct {
	g       *tfgraph.Graph
	x, y    tf.Output
	vars    []*tfgraph.Variable
	trained map[string]bool
	prefix  tf.Output     // save/Const, fed the checkpoint prefix
	save    tf.Output     // save/control_dependency
	restore *tf.Operation // save/restore_all
	reads   map[string]string
	input   []int64
}

// build adds the inference graph and the saver to a new graph.
func build(m models.Model, weights, ranges models.Weights) (*graph, error) {
	g := tfgraph.NewGraph()
	x := g.Placeholder(InputName, tf.Float, append([]int64{-1}, m.Input...))
	r := map[string][]float32{}
	for n, a := range ranges {
		r[n] = a.Data
	}
	env := qat.NewEnv(g, false, r)
	b := models.NewBuilder(env, m.Scheme, weights, 0)
	built, err := m.Build(b, x)
	if err != nil {
		return nil, fmt.Errorf("savedmodel: %w", err)
	}
	out := &graph{g: g, x: x, y: g.Identity(OutputName, built.Logits), trained: map[string]bool{},
		reads: map[string]string{}, input: m.Input}
	for _, v := range b.Variables() {
		if _, ok := weights[v.Name]; !ok {
			return nil, fmt.Errorf("savedmodel: no value for variable %s", v.Name)
		}
		out.vars = append(out.vars, v)
	}
	for _, p := range b.Params() {
		out.trained[p.Var.Name] = true
	}
	for _, v := range env.RangeVariables() {
		if _, ok := r[v.Name]; !ok {
			return nil, fmt.Errorf("savedmodel: no value for quantizer range %s", v.Name)
		}
		out.vars = append(out.vars, v)
	}
	out.addSaver()
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("savedmodel: %w", err)
	}
	return out, nil
}

// addSaver adds TF1's saver: SaveV2 and RestoreV2 over every variable,
// keyed by variable name, with the prefix in save/Const.
func (e *graph) addSaver() {
	s := e.g.Scope("save")
	names := make([]string, len(e.vars))
	slices := make([]string, len(e.vars))
	reads := make([]tf.Output, len(e.vars))
	dtypes := make([]tf.DataType, len(e.vars))
	for i, v := range e.vars {
		names[i], dtypes[i] = v.Name, v.DType
		reads[i] = v.Read(e.g.Scope(v.Name+"/Read"), "ReadVariableOp")
		e.reads[v.Name] = reads[i].Op.Name() + ":0"
	}
	e.prefix = s.Const("Const", "model")
	tensorNames := s.Const("SaveV2/tensor_names", names)
	shapes := s.Const("SaveV2/shape_and_slices", slices)
	saveOp := s.Op("SaveV2", "SaveV2", []any{e.prefix, tensorNames, shapes, reads}, nil)
	e.save = s.WithControlDependencies(saveOp).Identity("control_dependency", e.prefix)
	restore := s.Op("RestoreV2", "RestoreV2", []any{e.prefix, s.Const("RestoreV2/tensor_names", names),
		s.Const("RestoreV2/shape_and_slices", slices)}, map[string]any{"dtypes": dtypes})
	var assigns []*tf.Operation
	for i, v := range e.vars {
		if restore == nil {
			break
		}
		assigns = append(assigns, v.Assign(s, fmt.Sprintf("AssignVariableOp_%d", i), restore.Output(i)))
	}
	e.restore = s.Group("restore_all", assigns...)
}

// write runs the variables' initializers (which hold the given values),
// saves them with SaveV2 under dir/variables/, and writes saved_model.pb.
func (e *graph) write(dir string) error {
	sess, err := tfgraph.NewSession(e.g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	defer sess.Close()
	if _, err := sess.Run(nil, nil, []*tf.Operation{e.g.InitOp()}); err != nil {
		return fmt.Errorf("savedmodel: assign values: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "variables"), 0o755); err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	prefix, err := tf.NewTensor(filepath.Join(dir, VariablesPrefix))
	if err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	if _, err := sess.Run(map[tf.Output]*tf.Tensor{e.prefix: prefix}, []tf.Output{e.save}, nil); err != nil {
		return fmt.Errorf("savedmodel: write variables: %w", err)
	}
	var gd bytes.Buffer
	if _, err := e.g.TF().WriteTo(&gd); err != nil {
		return fmt.Errorf("savedmodel: serialise graph: %w", err)
	}
	def := &graph_go_proto.GraphDef{}
	if err := proto.Unmarshal(gd.Bytes(), def); err != nil {
		return fmt.Errorf("savedmodel: read back graph: %w", err)
	}
	pb, err := proto.Marshal(e.savedModel(def))
	if err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	if err := writeSynced(filepath.Join(dir, "saved_model.pb"), pb); err != nil {
		return err
	}
	for _, f := range []string{VariablesPrefix + ".index", VariablesPrefix + ".data-00000-of-00001"} {
		if err := syncFile(filepath.Join(dir, f)); err != nil {
			return err
		}
	}
	return syncDir(filepath.Join(dir, "variables"))
}
