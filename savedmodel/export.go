package savedmodel

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/atomicfile"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
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

// Export writes m's inference graph (fake-quant ops reading the stored
// ranges, batch norms with their moving statistics, no training ops) with
// the given variable values to the new folder dir as a SavedModel:
// saved_model.pb with one MetaGraphDef tagged "serve", its SaverDef and the
// signature "serving_default" (input "x", float32 [batch, m.Input...];
// output "logits"), and the values in variables/variables.index and
// variables/variables.data-00000-of-00001, written by TensorFlow's SaveV2.
//
// weights holds every model variable by name (Trainer.Weights), ranges
// every quantizer min/max the scheme needs (Trainer.Ranges; ranges the
// model does not use are ignored, so a QAT-trained model can be exported
// as float). A missing value, or a weight the model does not have, is an
// error naming it.
//
// The values live only in the checkpoint: each variable's initializer in
// the graph is its restore from the checkpoint, so loaders (which run the
// SaverDef's restore op) see the exported values and nothing overwrites
// them. The folder is assembled under a temporary name beside dir,
// <dir>.tmp-<pid>-<random>, and renamed when complete, so a failed export
// leaves nothing behind. Temporary folders of dir left by a process that
// was killed (one whose pid no longer runs) are removed by the next Export
// to dir.
func Export(dir string, m models.Model, weights, ranges data.Weights) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	dir = filepath.Clean(dir)
	if err := free(dir); err != nil {
		return err
	}
	e, err := build(m, weights, ranges)
	if err != nil {
		return err
	}
	removeStale(dir)
	// Readable by servers that run as another user (0755 less the umask).
	tmp, err := atomicfile.MkdirTemp(filepath.Dir(dir), tmpPrefix(dir, os.Getpid()))
	if err != nil {
		return fmt.Errorf("savedmodel: cannot write %s: %w", dir, err)
	}
	if err := e.write(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	// A plain rename would replace an empty folder made since free(dir).
	if err := renameNoReplace(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("savedmodel: %w", err)
	}
	if err := atomicfile.Sync(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	return nil
}

// checkThenRename renames old to new if nothing is at new: two steps, for
// systems without an atomic no-replace rename.
func checkThenRename(old, new string) error {
	if _, err := os.Lstat(new); err == nil {
		return fmt.Errorf("export folder %s already exists; remove it or choose another: %w", new, os.ErrExist)
	}
	return os.Rename(old, new)
}

// free returns an error unless nothing exists at dir.
func free(dir string) error {
	_, err := os.Lstat(dir)
	if err == nil {
		return fmt.Errorf("savedmodel: export folder %s already exists; remove it or choose another", dir)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("savedmodel: cannot write %s: %w", dir, err)
	}
	return nil
}

// graph is an inference graph with its saver ops.
type graph struct {
	g       *tfgraph.Graph
	x, y    tf.Output
	vars    []*tfgraph.Variable
	trained map[string]bool
	prefix  tf.Output       // save/Const, fed the checkpoint prefix
	save    tf.Output       // save/control_dependency, runs SaveV2
	restore *tf.Operation   // save/restore_all
	assigns []*tf.Operation // save/AssignVariableOp_i, restores vars[i]
	values  tf.Output       // save/RestoreV2 (output i is vars[i])
	reads   []tf.Output     // <var>/Read/ReadVariableOp, the snapshots
}

// build adds the inference graph and the saver to a new graph and checks
// that weights and ranges give every variable a finite value.
func build(m models.Model, weights, ranges data.Weights) (*graph, error) {
	inf, err := models.BuildInference(m, InputName, weights, ranges)
	if err != nil {
		return nil, fmt.Errorf("savedmodel: %w", err)
	}
	g := inf.Graph
	out := &graph{g: g, x: inf.X, y: g.Identity(OutputName, inf.Logits), trained: map[string]bool{}}
	known := map[string]bool{}
	for _, v := range inf.Variables {
		if err := finite(v.Name, weights[v.Name].Data); err != nil {
			return nil, err
		}
		known[v.Name] = true
		out.vars = append(out.vars, v)
	}
	for _, n := range weights.Names() {
		if !known[n] {
			return nil, fmt.Errorf("savedmodel: weights have a value for %s, which the model does not have", n)
		}
	}
	for _, v := range inf.Trainable {
		out.trained[v.Name] = true
	}
	for _, v := range inf.Ranges {
		if err := finite(v.Name, ranges[v.Name].Data); err != nil {
			return nil, err
		}
		out.vars = append(out.vars, v)
	}
	out.addSaver()
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("savedmodel: %w", err)
	}
	return out, nil
}

func finite(name string, vals []float32) error {
	for i, v := range vals {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("savedmodel: %s[%d] is %v; a model with non-finite values cannot be exported", name, i, v)
		}
	}
	return nil
}

// addSaver adds the ops of TF1's Saver: SaveV2 and RestoreV2 over every
// variable, keyed by variable name, with the prefix in save/Const, and the
// ReadVariableOp snapshots the VariableDefs name.
func (e *graph) addSaver() {
	s := e.g.Scope("save")
	names := make([]string, len(e.vars))
	slices := make([]string, len(e.vars))
	dtypes := make([]tf.DataType, len(e.vars))
	for i, v := range e.vars {
		names[i], dtypes[i] = v.Name, v.DType
		e.reads = append(e.reads, v.Read(e.g.Scope(v.Name+"/Read"), "ReadVariableOp"))
	}
	e.prefix = s.Const("Const", "model")
	saveOp := s.Op("SaveV2", "SaveV2", []any{e.prefix, s.Const("SaveV2/tensor_names", names),
		s.Const("SaveV2/shape_and_slices", slices), e.reads}, nil)
	e.save = s.WithControlDependencies(saveOp).Identity("control_dependency", e.prefix)
	restore := s.Op("RestoreV2", "RestoreV2", []any{e.prefix, s.Const("RestoreV2/tensor_names", names),
		s.Const("RestoreV2/shape_and_slices", slices)}, map[string]any{"dtypes": dtypes})
	if restore == nil {
		return
	}
	for i, v := range e.vars {
		e.assigns = append(e.assigns, v.Assign(s, fmt.Sprintf("AssignVariableOp_%d", i), restore.Output(i)))
	}
	e.restore = s.Group("restore_all", e.assigns...)
	e.values = restore.Output(0)
}

// write assigns the variables their values (the initializers built from
// weights and ranges), saves them with SaveV2 under dir/variables/, and
// writes saved_model.pb without those initializers.
func (e *graph) write(dir string) error {
	sess, err := tfgraph.NewSession(e.g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps})
	if err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	defer sess.Close()
	inits := make([]*tf.Operation, len(e.vars))
	for i, v := range e.vars {
		inits[i] = v.Initializer
	}
	if _, err := sess.Run(nil, nil, inits); err != nil {
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
	sm, err := e.savedModel()
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(dir, "saved_model.pb"), sm); err != nil {
		return err
	}
	for _, f := range []string{VariablesPrefix + ".index", VariablesPrefix + ".data-00000-of-00001"} {
		if err := atomicfile.Sync(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("savedmodel: %w", err)
		}
	}
	if err := atomicfile.Sync(filepath.Join(dir, "variables")); err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	if err := atomicfile.Sync(dir); err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	return nil
}
