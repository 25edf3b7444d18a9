package loop

import (
	"context"
	"fmt"
	"math"

	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Config is what a training run needs besides the model and data.
type Config struct {
	Adam    Adam
	Seed    uint64 // initialiser seed for variables without given values
	Session tfgraph.SessionConfig
}

// DefaultConfig is the article's setup: Adam(learning_rate=0.01), one
// intra-op and one inter-op thread (for reproducible bits).
func DefaultConfig() Config {
	a := NewAdam()
	a.LearningRate = 0.01
	return Config{Adam: a, Seed: 1, Session: tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1}}
}

// Trainer runs full-batch QAT steps on one model in one session.
type Trainer struct {
	graph   *tfgraph.Graph
	session *tf.Session
	loss    tf.Output
	train   *tf.Operation
	feeds   map[tf.Output]*tf.Tensor
	params  []models.Param
	step    int
}

// StepResult reports one finished step (1-based) and the loss it computed
// before applying its update.
type StepResult struct {
	Step int
	Loss float32
}

// NewTrainer builds the training graph for m on data: forward pass, loss,
// gradients through the fake-quantized computation, and the optimizer's
// updates to the float master weights, then initialises the variables.
func NewTrainer(m models.Model, data models.Dataset, init models.Weights, cfg Config) (*Trainer, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := data.Validate(m.Inputs, m.Classes()); err != nil {
		return nil, err
	}
	if err := cfg.Adam.Validate(); err != nil {
		return nil, err
	}
	g := tfgraph.NewGraph()
	x := g.Placeholder("x", tf.Float, data.X.Shape)
	y := g.Placeholder("y", tf.Float, data.Y.Shape)
	built, err := m.Build(g, x, init, cfg.Seed)
	if err != nil {
		return nil, err
	}
	loss, err := models.CategoricalCrossEntropy(g, built.Logits, y)
	if err != nil {
		return nil, err
	}
	train, err := Minimize(g, loss, built.Params, cfg.Adam)
	if err != nil {
		return nil, err
	}
	initOp := g.InitOp()
	sess, err := tfgraph.NewSession(g, cfg.Session)
	if err != nil {
		return nil, err
	}
	if _, err := sess.Run(nil, nil, []*tf.Operation{initOp}); err != nil {
		sess.Close()
		return nil, fmt.Errorf("initialise variables: %w", err)
	}
	xt, err := tfgraph.NewTensor(data.X.Shape, data.X.Data)
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("data x: %w", err)
	}
	yt, err := tfgraph.NewTensor(data.Y.Shape, data.Y.Data)
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("data y: %w", err)
	}
	return &Trainer{graph: g, session: sess, loss: loss, train: train,
		feeds: map[tf.Output]*tf.Tensor{x: xt, y: yt}, params: built.Params}, nil
}

// Minimize adds the gradients of loss with respect to the params' forward
// values (taken with the default gradient registry) and the optimizer's
// updates, and returns the op that applies them.
func Minimize(g *tfgraph.Graph, loss tf.Output, params []models.Param, opt Adam) (*tf.Operation, error) {
	xs := make([]tf.Output, len(params))
	vars := make([]*tfgraph.Variable, len(params))
	for i, p := range params {
		xs[i], vars[i] = p.Value, p.Var
	}
	grads, err := g.Gradients(tfgraph.DefaultRegistry(), []tf.Output{loss}, xs, nil)
	if err != nil {
		return nil, err
	}
	train, _, err := opt.Apply(g, vars, grads)
	return train, err
}

// Step runs one training step as a single Session.Run: it returns the loss
// of the current weights and applies every update.
func (t *Trainer) Step() (float32, error) {
	out, err := t.session.Run(t.feeds, []tf.Output{t.loss}, []*tf.Operation{t.train})
	if err != nil {
		return 0, fmt.Errorf("step %d: %w", t.step+1, err)
	}
	t.step++
	loss, ok := out[0].Value().(float32)
	if !ok {
		return 0, fmt.Errorf("step %d: loss has type %T", t.step, out[0].Value())
	}
	if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
		return loss, fmt.Errorf("step %d: loss is %v; stopping (lower the learning rate or check the data)", t.step, loss)
	}
	return loss, nil
}

// Run runs steps training steps, calling report (if not nil) after each. It
// stops early when ctx is done or report returns an error.
func (t *Trainer) Run(ctx context.Context, steps int, report func(StepResult) error) error {
	for i := 0; i < steps; i++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("training stopped after step %d: %w", t.step, err)
		}
		loss, err := t.Step()
		if err != nil {
			return err
		}
		if report != nil {
			if err := report(StepResult{Step: t.step, Loss: loss}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Weights returns the current float master weights by variable name.
func (t *Trainer) Weights() (models.Weights, error) {
	fetch := make([]tf.Output, len(t.params))
	for i, p := range t.params {
		fetch[i] = p.Value
	}
	out, err := t.session.Run(nil, fetch, nil)
	if err != nil {
		return nil, fmt.Errorf("read weights: %w", err)
	}
	w := models.Weights{}
	for i, p := range t.params {
		data, err := tfgraph.Float32s(out[i])
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p.Var.Name, err)
		}
		w[p.Var.Name] = models.Array{Shape: out[i].Shape(), Data: data}
	}
	return w, nil
}

// Close releases the session.
func (t *Trainer) Close() error { return t.session.Close() }
