package loop

import (
	"fmt"
	"strings"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// inferenceScope is the name scope NewTrainer builds the inference graph
// under.
const inferenceScope = "inference/"

// The FakeQuant op types a quantizer adds.
const (
	fakeQuantOp           = "FakeQuantWithMinMaxVars"
	fakeQuantPerChannelOp = "FakeQuantWithMinMaxVarsPerChannel"
)

// QuantizerValue is one quantizer of the model as the inference graph
// applies it, read between two steps: the range and settings its FakeQuant
// op is given and, for a weight (a tensor computed from variables alone,
// not from the input), the fake-quantized value TensorFlow computes from
// the float weight with that range.
type QuantizerValue struct {
	// Name is the quantizer's: its range variables' name without _min
	// and _max (c1/kernel for c1/kernel_min), or, for a fixed range, the
	// op's scope in the model (dense1/weight).
	Name        string
	NumBits     int
	NarrowRange bool
	PerChannel  bool
	// Weight is set when the quantized tensor does not depend on the
	// model's input (a kernel, a bias, a folded kernel).
	Weight bool
	// Min and Max are the range the op is given: one value, or one per
	// channel of the last axis.
	Min, Max []float32
	// Quantized is the FakeQuant op's output for a weight (nil for an
	// activation), of shape QuantizedShape.
	Quantized      []float32
	QuantizedShape []int64
}

// quantizerOp is a FakeQuant op of the inference graph and what it reads.
type quantizerOp struct {
	v           QuantizerValue
	out, lo, hi tf.Output
}

// Quantizers returns every quantizer of the inference graph, in the order
// the model applies them, with its current range and, for weights, the
// fake-quantized weight, read in one Session.Run.
func (t *Trainer) Quantizers() ([]QuantizerValue, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ops, err := t.quantizerOps()
	if err != nil {
		return nil, err
	}
	var fetch []tf.Output
	for _, q := range ops {
		fetch = append(fetch, q.lo, q.hi)
		if q.v.Weight {
			fetch = append(fetch, q.out)
		}
	}
	if len(fetch) == 0 {
		return nil, nil
	}
	res, err := t.session.Run(nil, fetch, nil)
	if err != nil {
		return nil, fmt.Errorf("read quantizers: %w", err)
	}
	out := make([]QuantizerValue, len(ops))
	i := 0
	next := func(name, what string) ([]float32, []int64, error) {
		v, err := tfgraph.Float32s(res[i])
		shape := res[i].Shape()
		i++
		if err != nil {
			return nil, nil, fmt.Errorf("quantizer %s: %s: %w", name, what, err)
		}
		return v, shape, nil
	}
	for k, q := range ops {
		v := q.v
		if v.Min, _, err = next(v.Name, "min"); err != nil {
			return nil, err
		}
		if v.Max, _, err = next(v.Name, "max"); err != nil {
			return nil, err
		}
		if v.Weight {
			if v.Quantized, v.QuantizedShape, err = next(v.Name, "quantized value"); err != nil {
				return nil, err
			}
		}
		out[k] = v
	}
	return out, nil
}

// quantizerOps finds the FakeQuant ops of the inference graph.
func (t *Trainer) quantizerOps() ([]quantizerOp, error) {
	fromInput := map[string]bool{}
	var ops []quantizerOp
	for _, op := range t.graph.TF().Operations() {
		typ := op.Type()
		if (typ != fakeQuantOp && typ != fakeQuantPerChannelOp) || !strings.HasPrefix(op.Name(), inferenceScope) {
			continue
		}
		n := t.graph.Node(&op)
		if n == nil || len(n.Inputs) != 3 {
			return nil, fmt.Errorf("quantizer op %s: not built through the trainer's graph", op.Name())
		}
		bits, err1 := op.Attr("num_bits")
		narrow, err2 := op.Attr("narrow_range")
		b, ok1 := bits.(int64)
		nr, ok2 := narrow.(bool)
		if err1 != nil || err2 != nil || !ok1 || !ok2 {
			return nil, fmt.Errorf("quantizer op %s: num_bits %v, narrow_range %v", op.Name(), bits, narrow)
		}
		q := quantizerOp{out: n.Op.Output(0), lo: n.Inputs[1], hi: n.Inputs[2]}
		q.v = QuantizerValue{Name: t.quantizerName(n), NumBits: int(b), NarrowRange: nr,
			PerChannel: typ == fakeQuantPerChannelOp, Weight: !t.dependsOnInput(n.Inputs[0].Op, fromInput)}
		ops = append(ops, q)
	}
	return ops, nil
}

// quantizerName names the quantizer of FakeQuant node n after its range
// variables, or else after the op's scope.
func (t *Trainer) quantizerName(n *tfgraph.Node) string {
	if read := t.graph.Node(n.Inputs[1].Op); read != nil && read.Type() == "ReadVariableOp" && len(read.Inputs) == 1 {
		if v := read.Inputs[0].Op; v.Type() == "VarHandleOp" {
			return strings.TrimSuffix(v.Name(), "_min")
		}
	}
	name := strings.TrimPrefix(n.Name(), inferenceScope)
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[:i]
	}
	return name
}

// dependsOnInput reports whether op reads a placeholder (the model's
// input), remembering the answers in seen.
func (t *Trainer) dependsOnInput(op *tf.Operation, seen map[string]bool) bool {
	if v, ok := seen[op.Name()]; ok {
		return v
	}
	seen[op.Name()] = true // until shown otherwise; graphs have no cycles
	n := t.graph.Node(op)
	dep := op.Type() == "Placeholder"
	if n == nil {
		dep = true // not built by the trainer: not known to be a weight
	}
	for i := 0; !dep && i < len(n.Inputs); i++ {
		dep = t.dependsOnInput(n.Inputs[i].Op, seen)
	}
	seen[op.Name()] = dep
	return dep
}
