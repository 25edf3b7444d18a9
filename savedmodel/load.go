package savedmodel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Model is a SavedModel loaded for inference by TensorFlow's own loader
// (the C++ LoadSavedModel): a session holding the restored variables and
// the serving_default signature's input and output.
type Model struct {
	sm        *tf.SavedModel
	x, logits tf.Output
	input     []int64
}

// Load loads the SavedModel in dir (tag "serve"), as Export writes it or
// as TensorFlow writes any model with a serving_default signature of one
// float32 input [batch, ...] (of any name; Export names it "x") and a
// float32 output "logits", or a single output of any name. cfg sets the
// session's threads and graph rewrites. A folder that is not a SavedModel,
// or whose signature differs, is an error naming it.
func Load(dir string, cfg tfgraph.SessionConfig) (*Model, error) {
	if _, err := os.Stat(filepath.Join(dir, "saved_model.pb")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("savedmodel: %s has no saved_model.pb: not a SavedModel", dir)
		}
		return nil, fmt.Errorf("savedmodel: %w", err)
	}
	opts, err := cfg.Options()
	if err != nil {
		return nil, fmt.Errorf("savedmodel: %w", err)
	}
	var sm *tf.SavedModel
	tfgraph.WithProfSignalBlocked(func() { sm, err = tf.LoadSavedModel(dir, []string{Tag}, opts) })
	if err != nil {
		return nil, fmt.Errorf("savedmodel: load %s: %w", dir, err)
	}
	m, err := signature(sm)
	if err == nil {
		err = restored(sm, dir)
	}
	if err != nil {
		sm.Session.Close()
		return nil, fmt.Errorf("savedmodel: %s: %w", dir, err)
	}
	return m, nil
}

// signature finds serving_default's input and output in a loaded model:
// its one input (whatever its name) and its output "logits", or its one
// output.
func signature(sm *tf.SavedModel) (*Model, error) {
	sig, ok := sm.Signatures[Signature]
	if !ok {
		names := make([]string, 0, len(sm.Signatures))
		for k := range sm.Signatures {
			names = append(names, k)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("no signature %q (the model has %q)", Signature, names)
	}
	inName, err := pick(sig.Inputs, "", "input")
	if err != nil {
		return nil, err
	}
	outName, err := pick(sig.Outputs, OutputName, "output")
	if err != nil {
		return nil, err
	}
	in, out := sig.Inputs[inName], sig.Outputs[outName]
	if in.DType != tf.Float {
		return nil, fmt.Errorf("signature %q: input %q is %s, want float32", Signature, inName, tfgraph.DTypeName(in.DType))
	}
	if out.DType != tf.Float {
		return nil, fmt.Errorf("signature %q: output %q is %s, want float32", Signature, outName, tfgraph.DTypeName(out.DType))
	}
	x, err := lookup(sm.Graph, in.Name)
	if err != nil {
		return nil, err
	}
	logits, err := lookup(sm.Graph, out.Name)
	if err != nil {
		return nil, err
	}
	dims, err := in.Shape.ToSlice()
	if err != nil || len(dims) < 1 {
		return nil, fmt.Errorf("signature %q: input %q needs a known rank with a batch axis", Signature, inName)
	}
	for _, d := range dims[1:] {
		if d < 0 {
			return nil, fmt.Errorf("signature %q: input %q has shape %v, with an unknown dimension after the batch axis", Signature, inName, dims)
		}
	}
	return &Model{sm: sm, x: x, logits: logits, input: dims[1:]}, nil
}

// pick returns the name of a signature's only input or output (what), or
// of the one named prefer when there are several.
func pick(m map[string]tf.TensorInfo, prefer, what string) (string, error) {
	if _, ok := m[prefer]; ok && prefer != "" {
		return prefer, nil
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	switch {
	case len(names) == 1:
		return names[0], nil
	case len(names) == 0:
		return "", fmt.Errorf("signature %q has no %s", Signature, what)
	case prefer != "":
		return "", fmt.Errorf("signature %q has %d %ss %q and none is named %q; qat needs one %s", Signature, len(names), what, names, prefer, what)
	}
	return "", fmt.Errorf("signature %q has %d %ss %q; qat needs one", Signature, len(names), what, names)
}

// restored checks that a model with variables came with their values:
// TensorFlow's loader accepts a folder without variables/ and leaves the
// variables uninitialized, so the first Predict would fail instead.
func restored(sm *tf.SavedModel, dir string) error {
	_, err := os.Stat(filepath.Join(dir, VariablesPrefix+".index"))
	if err == nil {
		return nil
	}
	vars := 0
	for _, op := range sm.Graph.Operations() {
		if op.Type() == "VarHandleOp" {
			vars++
		}
	}
	if vars == 0 {
		return nil
	}
	return fmt.Errorf("%d variables but no checkpoint (%s.index): %w", vars, VariablesPrefix, err)
}

// lookup finds the tensor "op:index" in a loaded graph.
func lookup(g *tf.Graph, name string) (tf.Output, error) {
	op, idx := name, 0
	if i := strings.LastIndex(name, ":"); i >= 0 {
		if _, err := fmt.Sscanf(name[i+1:], "%d", &idx); err != nil {
			return tf.Output{}, fmt.Errorf("tensor name %q: %w", name, err)
		}
		op = name[:i]
	}
	o := g.Operation(op)
	if o == nil || idx < 0 || idx >= o.NumOutputs() {
		return tf.Output{}, fmt.Errorf("the graph has no tensor %q", name)
	}
	return o.Output(idx), nil
}

// Input is the shape of one example (the signature's input without its
// batch axis).
func (m *Model) Input() []int64 { return append([]int64(nil), m.input...) }

// PredictBatch is how many examples Predict runs at once.
const PredictBatch = 1000

// Predict returns the logits for x [N, Input()...], PredictBatch examples
// per session run. It may be called from several goroutines at once.
func (m *Model) Predict(x data.Array) (data.Array, error) {
	return m.PredictBatches(x, PredictBatch)
}

// PredictBatches is Predict running batch examples at a time.
func (m *Model) PredictBatches(x data.Array, batch int) (data.Array, error) {
	if len(x.Shape) != len(m.input)+1 || !tfgraph.SameShape(x.Shape[1:], m.input) {
		return data.Array{}, fmt.Errorf("savedmodel: predict: x has shape %v, want [N %v]", x.Shape, m.input)
	}
	shape, vals, err := tfgraph.RunBatches(m.sm.Session, m.x, m.logits, x.Shape, x.Data, batch)
	if err != nil {
		return data.Array{}, fmt.Errorf("savedmodel: predict: %w", err)
	}
	return data.Array{Shape: shape, Data: vals}, nil
}

// Tensors returns the names ("op:index") of the signature's input and
// output tensors in the loaded graph.
func (m *Model) Tensors() (input, output string) {
	return fmt.Sprintf("%s:%d", m.x.Op.Name(), m.x.Index), fmt.Sprintf("%s:%d", m.logits.Op.Name(), m.logits.Index)
}

// Fetch returns the values of the named tensors ("op:index") of the
// loaded graph that do not depend on the input, such as the restored
// variables' reads and constants (tools such as inspect read quantizer
// ranges this way). A name the graph lacks is an error naming it.
func (m *Model) Fetch(names ...string) ([]*tf.Tensor, error) {
	outs := make([]tf.Output, len(names))
	for i, n := range names {
		o, err := lookup(m.sm.Graph, n)
		if err != nil {
			return nil, fmt.Errorf("savedmodel: fetch: %w", err)
		}
		outs[i] = o
	}
	res, err := m.sm.Session.Run(nil, outs, nil)
	if err != nil {
		return nil, fmt.Errorf("savedmodel: fetch %q: %w", names, err)
	}
	return res, nil
}

// Close releases the session.
func (m *Model) Close() error { return m.sm.Session.Close() }
