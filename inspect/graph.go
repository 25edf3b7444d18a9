package inspect

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/core/framework/graph_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/node_def_go_proto"
)

// The FakeQuant op types a quantizer is made of.
const (
	fakeQuantOp           = "FakeQuantWithMinMaxVars"
	fakeQuantPerChannelOp = "FakeQuantWithMinMaxVarsPerChannel"
)

// view is a model graph as a GraphDef (names, op types, inputs,
// attributes) beside the tf.Graph it was built or imported as (shapes),
// with the graph's input and output node names.
type view struct {
	g       *tf.Graph
	nodes   map[string]*node_def_go_proto.NodeDef
	order   []*node_def_go_proto.NodeDef
	in, out string
	needed  map[string]bool // the nodes out depends on
	fromIn  map[string]bool // memo: does the node depend on in
}

func newView(g *tf.Graph, def *graph_go_proto.GraphDef, in, out string) (*view, error) {
	v := &view{g: g, nodes: map[string]*node_def_go_proto.NodeDef{}, order: def.GetNode(),
		in: nodeName(in), out: nodeName(out), needed: map[string]bool{}, fromIn: map[string]bool{}}
	for _, n := range v.order {
		v.nodes[n.GetName()] = n
	}
	for _, n := range []string{v.in, v.out} {
		if v.nodes[n] == nil {
			return nil, fmt.Errorf("the graph has no node %q", n)
		}
	}
	stack := []string{v.out}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if v.needed[n] {
			continue
		}
		v.needed[n] = true
		if nd := v.nodes[n]; nd != nil {
			for _, i := range nd.GetInput() {
				stack = append(stack, nodeName(i))
			}
		}
	}
	return v, nil
}

// nodeName is the node of an input reference "name", "name:1" or "^name".
func nodeName(ref string) string {
	ref = strings.TrimPrefix(ref, "^")
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		return ref[:i]
	}
	return ref
}

// tensorName is an input reference as "op:index".
func tensorName(ref string) string {
	if strings.Contains(ref, ":") {
		return ref
	}
	return ref + ":0"
}

// dependsOnInput says whether node n computes from the model's input.
func (v *view) dependsOnInput(n string) bool {
	if d, ok := v.fromIn[n]; ok {
		return d
	}
	v.fromIn[n] = false // cycles (none in these graphs) end here
	d := n == v.in
	if nd := v.nodes[n]; nd != nil && !d {
		for _, i := range nd.GetInput() {
			if !strings.HasPrefix(i, "^") && v.dependsOnInput(nodeName(i)) {
				d = true
				break
			}
		}
	}
	v.fromIn[n] = d
	return d
}

// ops counts the needed nodes by op type.
func (v *view) ops(graph string) Ops {
	o := Ops{Graph: graph, Counts: map[string]int{}, Nodes: len(v.order)}
	for n := range v.needed {
		if nd := v.nodes[n]; nd != nil {
			o.Counts[nd.GetOp()]++
			o.Total++
		}
	}
	return o
}

// variable follows a tensor through Identity and ReadVariableOp to the
// VarHandleOp it reads, and returns that variable's name (its
// shared_name, else its node name), or "" if it reads none.
func (v *view) variable(ref string) string {
	for range 100 {
		nd := v.nodes[nodeName(ref)]
		if nd == nil {
			return ""
		}
		switch nd.GetOp() {
		case "VarHandleOp":
			if s := string(nd.GetAttr()["shared_name"].GetS()); s != "" {
				return s
			}
			return nd.GetName()
		case "Identity", "ReadVariableOp":
			if len(nd.GetInput()) == 0 {
				return ""
			}
			ref = nd.GetInput()[0]
		default:
			return ""
		}
	}
	return ""
}

// quantizers returns the needed FakeQuant ops, in graph order, with their
// ranges read by fetch (tensor names "op:index" to values).
func (v *view) quantizers(fetch func(names []string) ([][]float32, error)) ([]Quantizer, map[string]bool, error) {
	var qs []Quantizer
	var refs []string
	rangeVars := map[string]bool{}
	for _, nd := range v.order {
		if !v.needed[nd.GetName()] || (nd.GetOp() != fakeQuantOp && nd.GetOp() != fakeQuantPerChannelOp) {
			continue
		}
		in := nd.GetInput()
		if len(in) < 3 {
			return nil, nil, fmt.Errorf("%s %s has %d inputs, want 3", nd.GetOp(), nd.GetName(), len(in))
		}
		q := Quantizer{Op: nd.GetName(), Input: tensorName(in[0]), Bits: 8, PerChannel: nd.GetOp() == fakeQuantPerChannelOp, Kind: "activations"}
		if a, ok := nd.GetAttr()["num_bits"]; ok {
			q.Bits = int(a.GetI())
		}
		q.NarrowRange = nd.GetAttr()["narrow_range"].GetB()
		switch {
		case nodeName(in[0]) == v.in:
			q.Kind = "input"
		case !v.dependsOnInput(nodeName(in[0])):
			q.Kind = "weights"
		}
		lo, hi := v.variable(in[1]), v.variable(in[2])
		if lo != "" {
			rangeVars[lo], rangeVars[hi] = true, true
			q.Name = strings.TrimSuffix(lo, "_min")
		} else {
			q.Name = scopeOf(nd.GetName())
		}
		qs = append(qs, q)
		refs = append(refs, tensorName(in[1]), tensorName(in[2]))
	}
	if len(refs) == 0 {
		return nil, rangeVars, nil
	}
	vals, err := fetch(refs)
	if err != nil {
		return nil, nil, fmt.Errorf("read quantizer ranges: %w", err)
	}
	for i := range qs {
		if err := qs[i].setRange(vals[2*i], vals[2*i+1]); err != nil {
			return nil, nil, err
		}
	}
	return qs, rangeVars, nil
}

// setRange sets the stored range and the grid the kernel puts it on.
func (q *Quantizer) setRange(lo, hi []float32) error {
	if len(lo) != len(hi) || len(lo) == 0 {
		return fmt.Errorf("quantizer %s: %d min and %d max values", q.Name, len(lo), len(hi))
	}
	if err := qat.ValidateBits(q.Bits); err != nil {
		return fmt.Errorf("quantizer %s: %w", q.Name, err)
	}
	q.Channels, q.Min, q.Max, q.Symmetric = len(lo), lo, hi, true
	for i := range lo {
		g := qat.NudgeGrid(lo[i], hi[i], q.Bits, q.NarrowRange)
		q.NudgedMin = append(q.NudgedMin, g.Min)
		q.NudgedMax = append(q.NudgedMax, g.Max)
		q.Scale = append(q.Scale, g.Scale)
		q.ZeroPoint = append(q.ZeroPoint, g.ZeroPoint)
		q.QuantMin, q.QuantMax = g.QuantMin, g.QuantMax
		if g.ZeroPoint != int64(1)<<(q.Bits-1) {
			q.Symmetric = false
		}
	}
	return nil
}

// scopeOf is a node name without its last component.
func scopeOf(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return name
}

// topScope is a node name's first component.
func topScope(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return name
}

// tensorOf finds the tensor ref ("op:index") in g.
func tensorOf(g *tf.Graph, ref string) (tf.Output, error) {
	op := g.Operation(nodeName(ref))
	idx := 0
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		var err error
		if idx, err = strconv.Atoi(ref[i+1:]); err != nil {
			return tf.Output{}, fmt.Errorf("tensor name %q: %w", ref, err)
		}
	}
	if op == nil || idx < 0 || idx >= op.NumOutputs() {
		return tf.Output{}, fmt.Errorf("the graph has no tensor %q", ref)
	}
	return op.Output(idx), nil
}

// shape returns the per-example shape of tensor ref ("op:index").
func (v *view) shape(ref string) []int64 {
	o, err := tensorOf(v.g, ref)
	if err != nil {
		return nil
	}
	dims, err := tfgraph.ShapeOf(o)
	if err != nil || len(dims) == 0 {
		return nil
	}
	return dims[1:]
}

// mainOps are the op types that name a SavedModel layer, most telling
// first; a scope without any is named by its first other op type in
// alphabetical order, or "variables" if it only holds variables.
var mainOps = []string{"MatMul", "Conv2D", "DepthwiseConv2dNative", "FusedBatchNormV3", "FusedBatchNorm", "MaxPool", "AvgPool",
	"Mean", "ConcatV2", "Pad", "Relu6", "Relu", "Reshape", "AddV2", "Add", fakeQuantOp, fakeQuantPerChannelOp,
	"StatefulPartitionedCall", "PartitionedCall"}

// scopeLayers lists the top-level name scopes of the needed nodes as
// layers, in graph order: the main op type, the shape of the tensor the
// scope passes on, and the size of its variables other than rangeVars.
// Scopes of only the input, Identity or NoOp nodes are left out.
func (v *view) scopeLayers(rangeVars map[string]bool) []Layer {
	type scope struct {
		types  map[string]bool
		out    string
		params int64
	}
	scopes := map[string]*scope{}
	var names []string
	for _, nd := range v.order {
		n := nd.GetName()
		if !v.needed[n] || n == v.in {
			continue
		}
		s := scopes[topScope(n)]
		if s == nil {
			s = &scope{types: map[string]bool{}}
			scopes[topScope(n)] = s
			names = append(names, topScope(n))
		}
		s.types[nd.GetOp()] = true
		if nd.GetOp() == "VarHandleOp" && !rangeVars[v.variable(n)] {
			s.params += shapeSize(nd)
		}
		for _, i := range nd.GetInput() {
			if p := nodeName(i); !strings.HasPrefix(i, "^") && topScope(p) != topScope(n) && p != v.in {
				if ps := scopes[topScope(p)]; ps != nil {
					ps.out = tensorName(i)
				}
			}
		}
		if n == v.out {
			s.out = n + ":0"
		}
	}
	var out []Layer
	for _, name := range names {
		s := scopes[name]
		typ := ""
		for _, t := range mainOps {
			if s.types[t] {
				typ = t
				break
			}
		}
		if typ == "" {
			rest := make([]string, 0, len(s.types))
			for t := range s.types {
				if t != "Identity" && t != "NoOp" && t != "VarHandleOp" && t != "ReadVariableOp" {
					rest = append(rest, t)
				}
			}
			switch {
			case len(rest) > 0:
				slices.Sort(rest)
				typ = rest[0]
			case s.types["VarHandleOp"]:
				typ = "variables" // read by ops elsewhere, such as a function call
			default:
				continue
			}
		}
		out = append(out, Layer{Name: name, Type: typ, Output: v.shape(s.out), Parameters: s.params})
	}
	return out
}

// shapeSize is the element count of a VarHandleOp's shape attribute.
func shapeSize(nd *node_def_go_proto.NodeDef) int64 {
	n := int64(1)
	for _, d := range nd.GetAttr()["shape"].GetShape().GetDim() {
		if d.GetSize() < 0 {
			return 0
		}
		n *= d.GetSize()
	}
	return n
}
