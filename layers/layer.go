package layers

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Layer is one step of a Model. Shapes are per example (no batch axis).
type Layer interface {
	// LayerName is the layer's name, the scope of its ops and variables.
	LayerName() string
	// OutputShape checks the layer's settings and its input shape and
	// returns the shape of its output.
	OutputShape(in []int64) ([]int64, error)
	// Build adds the layer on x ([batch, in...]) and returns its output.
	Build(b *Builder, x tf.Output) (tf.Output, error)
}

// Weighted is implemented by layers with a weight tensor; channels says
// whether it has output channels for per-channel ranges.
type Weighted interface {
	HasChannels() bool
}

// Param is a trainable variable and the value the forward pass read.
type Param = tfgraph.Param

// Builder carries what layers need while a model graph is built: the
// quantization Env (graph, training or inference, schedule), the scheme,
// initial values and the variables made so far. Building the same model
// twice with one Builder (training, then inference) shares the variables.
type Builder struct {
	Env    *qat.Env
	Scheme *qat.Scheme
	// quantizeOutput is false when the next layer takes over the output
	// quantization (a ReLU or BatchNorm right after a Weighted layer).
	quantizeOutput bool
	// floatWeights is set when the next layer keeps its weights in float
	// (tfmot's no-op config for a layer before a ReLU, on request).
	floatWeights bool

	init    data.Weights
	seed    uint64
	rng     *rand.Rand
	vars    map[string]*tfgraph.Variable
	made    *[]string // variable names in the order made, shared by replicas
	params  []Param
	updates []*tf.Operation
	initial data.Weights
	// read lists the variables this Builder has read (a replica's first
	// read of a trainable variable is its Param).
	read map[string]bool
}

// NewBuilder returns a Builder adding to env's graph. init gives initial
// values by variable name; the rest are drawn from a PCG seeded with seed.
func NewBuilder(env *qat.Env, scheme *qat.Scheme, init data.Weights, seed uint64) *Builder {
	return &Builder{
		Env: env, Scheme: scheme, quantizeOutput: true, init: init, seed: seed,
		rng:  rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		vars: map[string]*tfgraph.Variable{}, made: new([]string), initial: data.Weights{}, read: map[string]bool{},
	}
}

// Replica returns a Builder for one replica of a data-parallel step,
// building with env (the replica's scope, device and rendezvous, from
// qat.Env.Replica): it shares b's variables and initial values, and
// records as its own Params (and Updates) what the replica reads.
// Variables are made once, by the first replica to reach them, in the
// order (and from the random draws) of a single build.
func (b *Builder) Replica(env *qat.Env) *Builder {
	c := *b
	c.Env, c.params, c.updates, c.read = env, nil, nil, map[string]bool{}
	return &c
}

// Graph is the graph view layers add to.
func (b *Builder) Graph() *tfgraph.Graph { return b.Env.Graph }

// Params lists the trainable variables (weights, then learnable ranges in
// the order built) with the values read in the first build.
func (b *Builder) Params() []Param {
	return append(append([]Param(nil), b.params...), b.Env.Trainable()...)
}

// Updates lists the ops a training step must run besides the optimizer's
// (batch norms' moving statistics).
func (b *Builder) Updates() []*tf.Operation { return append([]*tf.Operation(nil), b.updates...) }

// Initial returns the initial value of every model variable (not the
// quantizer ranges) by name.
func (b *Builder) Initial() data.Weights { return b.initial }

// Variables lists the model's variables (not the quantizer ranges) in the
// order they were made.
func (b *Builder) Variables() []*tfgraph.Variable {
	out := make([]*tfgraph.Variable, 0, len(*b.made))
	for _, n := range *b.made {
		out = append(out, b.vars[n])
	}
	return out
}

// variable returns the variable scope/name of the given shape and its read,
// creating it on first use from the given initial values or init. A
// trainable variable is recorded in Params.
func (b *Builder) variable(s *tfgraph.Graph, name string, shape []int64, init tfgraph.Initializer, trainable bool) tf.Output {
	full := strings.TrimPrefix(s.FullName(name), b.Env.Graph.FullName(""))
	v, ok := b.vars[full]
	if !ok {
		vals, err := init.Values(shape, b.rng) // drawn even when given, so seeds stay aligned
		if err != nil {
			s.SetErr(fmt.Errorf("initialise %s: %w", full, err))
			return tf.Output{}
		}
		if a, given := b.init[full]; given {
			if !tfgraph.SameShape(a.Shape, shape) {
				s.SetErr(fmt.Errorf("initial value for %s has shape %v, the model needs %v", full, a.Shape, shape))
				return tf.Output{}
			}
			vals = a.Data
		}
		t, err := tfgraph.NewTensor(shape, vals)
		if err != nil {
			s.SetErr(fmt.Errorf("initial value for %s: %w", full, err))
			return tf.Output{}
		}
		v = s.NewVariable(name, t)
		b.vars[full] = v
		*b.made = append(*b.made, full)
		b.initial[full] = data.Array{Shape: append([]int64(nil), shape...), Data: vals}
	}
	read := v.Read(s, name+"/read")
	if !b.read[full] && trainable {
		b.params = append(b.params, Param{Var: v, Value: read})
	}
	b.read[full] = true
	return read
}

// Variable returns the read of the layer variable name (made within s, the
// layer's scope) of the given shape, creating it on first use from the
// Builder's initial values or init; a trainable one is trained. A second
// build with the same Builder reuses it. It is how a layer of your own
// makes its weights.
func (b *Builder) Variable(s *tfgraph.Graph, name string, shape []int64, init tfgraph.Initializer, trainable bool) tf.Output {
	return b.variable(s, name, shape, init, trainable)
}

// QuantizeWeights fake-quantizes a weight tensor of layer as the scheme
// says (per channel on the last axis where perChannelDefault and the scheme
// leave it so), under the name "kernel" within s.
func (b *Builder) QuantizeWeights(s *tfgraph.Graph, layer string, perChannelDefault bool, w tf.Output) tf.Output {
	return b.weights(s, layer, perChannelDefault, w)
}

// QuantizeOutput fake-quantizes layer's output as the scheme says, unless
// the model's placement rules hand it to a later layer.
func (b *Builder) QuantizeOutput(s *tfgraph.Graph, layer string, y tf.Output) tf.Output {
	return b.output(s, layer, y)
}

// Weights lists the model's trainable variables (not the quantizer ranges)
// in the order built, with the values read in the first build.
func (b *Builder) Weights() []Param { return append([]Param(nil), b.params...) }

// SetOutputQuantized says whether the next layer built quantizes its own
// output (true, the default) or leaves it to a layer after it that takes
// over (a ReLU or BatchNorm right after a weighted layer, as tfmot's
// transforms place quantizers).
func (b *Builder) SetOutputQuantized(on bool) { b.quantizeOutput = on }

// SetWeightsQuantized says whether the next layer built quantizes its
// weights as the scheme says (true, the default) or keeps them in float
// (the weighted layer before a ReLU under
// qat.TFMOTCompat.FloatKernelBeforeReLU).
func (b *Builder) SetWeightsQuantized(on bool) { b.floatWeights = !on }

// env returns the quantization Env scoped to s.
func (b *Builder) env(s *tfgraph.Graph) *qat.Env {
	e := *b.Env
	e.Graph = s
	return &e
}

// Quantize applies q (if not nil) to x as name within s.
func (b *Builder) Quantize(s *tfgraph.Graph, q qat.Quantizer, name string, x tf.Output) tf.Output {
	if q == nil {
		return x
	}
	return q.Apply(b.env(s), name, x)
}

// weights fake-quantizes a layer's weight tensor per the scheme.
func (b *Builder) weights(s *tfgraph.Graph, layer string, perChannelDefault bool, w tf.Output) tf.Output {
	return b.Quantize(s, b.weightQuantizer(layer, perChannelDefault), "kernel", w)
}

// weightQuantizer is the scheme's weight quantizer for layer, or nil when
// the layer keeps its weights in float.
func (b *Builder) weightQuantizer(layer string, perChannelDefault bool) qat.Quantizer {
	if b.floatWeights {
		return nil
	}
	return b.Scheme.Weights(layer, perChannelDefault)
}

// output fake-quantizes a layer's output per the scheme, unless the next
// layer quantizes it.
func (b *Builder) output(s *tfgraph.Graph, layer string, y tf.Output) tf.Output {
	if !b.quantizeOutput {
		return y
	}
	return b.Quantize(s, b.Scheme.Activations(layer), "post_activation", y)
}

// inputShape checks x's shape against the layer's OutputShape contract and
// returns the per-example shape.
func inputShape(l Layer, x tf.Output) ([]int64, error) {
	dims, err := tfgraph.ShapeOf(x)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.LayerName(), err)
	}
	if len(dims) < 2 {
		return nil, fmt.Errorf("layer %s: input has shape %v, want [batch, ...]", l.LayerName(), dims)
	}
	if _, err := l.OutputShape(dims[1:]); err != nil {
		return nil, err
	}
	return dims[1:], nil
}

// Activations a Dense or convolution layer may apply.
const (
	Linear   = ""
	ReLUAct  = "relu"
	ReLU6Act = "relu6"
)

func CheckActivation(layer, a string) error {
	switch a {
	case Linear, "linear", ReLUAct, ReLU6Act:
		return nil
	}
	return fmt.Errorf("layer %s: unknown activation %q (want linear, relu or relu6)", layer, a)
}

func activate(s *tfgraph.Graph, a string, x tf.Output) tf.Output {
	switch a {
	case ReLUAct:
		return s.Relu("Relu", x)
	case ReLU6Act:
		return s.Relu6("Relu6", x)
	}
	return x
}
