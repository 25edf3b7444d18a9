package loop

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// Config is what a training run needs besides the model and data.
type Config struct {
	// Optimizer applies the gradients: Adam (the default) or SGD.
	Optimizer Optimizer
	Seed      uint64 // initialiser seed for variables without given values
	// BatchSize is the mini-batch size; 0 trains on the whole data set
	// every step. Batches are shuffled per epoch from DataSeed.
	BatchSize int
	DataSeed  uint64
	// Ranges gives starting values of quantizer range variables by name
	// (from Calibrate); the others start where their policy says.
	Ranges  map[string][]float32
	Session tfgraph.SessionConfig
	// KeepCheckpoints is how many checkpoints Save keeps in its folder:
	// 0 means DefaultKeepCheckpoints, a negative number all of them.
	KeepCheckpoints int
	// Gradients holds the gradient function of every op type on the path
	// from the loss to the weights; nil means tfgraph.DefaultRegistry().
	// To train through an op without a gradient there, or to change one,
	// start from tfgraph.DefaultRegistry() and Register your own.
	Gradients *tfgraph.Registry
	// Loss is the training loss; the zero value is categorical
	// cross-entropy on one-hot labels. The data's y must have the form
	// Loss.Labels() (class ids [N] for sparse_categorical_crossentropy).
	Loss models.Loss
	// Parallel, when set, trains on a cluster (Session.Target), one
	// replica per worker; nil trains in this process.
	Parallel *DataParallel
}

// DefaultConfig is the article's setup: Adam(learning_rate=0.01), one
// intra-op thread (for reproducible bits), ops run on the calling thread
// (tfgraph.InlineOps), in graph
// numerics, the results of a tf.function or Keras training step. For the
// bits of the article's eager GradientTape loop itself, set
// Session.Numerics to tfgraph.EagerNumerics.
func DefaultConfig() Config {
	a := NewAdam()
	a.LearningRate = 0.01
	return Config{Optimizer: a, Seed: 1, Session: tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps}}
}

// Trainer runs QAT steps on one model in one session. Besides the
// training graph it holds an inference graph on the same variables
// (Predict, Evaluate).
//
// A Trainer is safe for concurrent use: its methods hold a lock, so steps,
// saves, restores and reads of its state (Weights, State, Predict, ...)
// from several goroutines run one at a time, each seeing the state between
// two steps. Run takes the lock step by step and calls its report function
// without it. Steps from several goroutines take the batches in turn, in an
// order that depends on scheduling, so only steps from one goroutine give
// reproducible bits.
type Trainer struct {
	mu      sync.Mutex
	graph   *tfgraph.Graph
	session *tf.Session
	x, y    tf.Output
	loss    tf.Output
	train   *tf.Operation
	feeds   map[tf.Output]*tf.Tensor // full-batch data, fed every step
	batches *data.Batcher
	ahead   *prefetcher // draws the next batch while a step runs
	params  []layers.Param
	vars    []*tfgraph.Variable
	reads   []tf.Output     // one read per variable, for State
	model   map[string]bool // names of the model's own variables
	ranges  map[string]bool // names of the quantizer range variables
	evalX   tf.Output
	logits  tf.Output
	step    int
	losses  []float32 // of every step, restored ones too
	ckpt    ckptGraph
	keep    int // checkpoints Save keeps
	good    lastGood
	// The snapshot: its step, its position in the data, and whether the
	// steps since can be run again (not after StepOn).
	snapStep   int
	snapData   data.BatchState
	replayable bool
	data       data.Dataset // for the fingerprint
	dataSum    string       // the data's fingerprint, once computed
	labels     data.Labels  // the form of y the loss takes
	lossCfg    models.Loss  // the loss, for Fit's float validation
	// For Fit: the model, the examples per step, the right predictions of
	// the last step, the validation ops and the learning rate (nil
	// Op: unknown optimizer type).
	def         models.Model
	batch       int
	lastCorrect float32
	corrects    []float32 // of every step, as losses (NaN: unknown)
	correct     tf.Output
	score       scoreOps
	lr          tf.Output
	// sessionConfig is for the Evaluators of Fit's float validation.
	sessionConfig tfgraph.SessionConfig
}

// StepResult reports one finished step (1-based) and the loss it computed
// before applying its update, and how many of the step's Examples the
// training graph's logits (those the loss was computed from) classified
// right: Keras's accuracy metric of that batch is Correct / Examples.
type StepResult struct {
	Step     int
	Loss     float32
	Correct  float32
	Examples int
}

// NewTrainer builds the training graph for m on data: forward pass (with
// the scheme's quantizers in training mode), loss, gradients through the
// fake-quantized computation, the optimizer's updates to the float master
// weights (and learnable ranges), batch-norm statistics and the step
// counter; and the inference graph beside it. Then it initialises the
// variables.
func NewTrainer(m models.Model, ds data.Dataset, init data.Weights, cfg Config) (*Trainer, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Loss.Validate(); err != nil {
		return nil, err
	}
	if err := ds.ValidateLabels(m.Input, m.Classes(), cfg.Loss.Labels()); err != nil {
		return nil, err
	}
	if cfg.Optimizer == nil {
		return nil, fmt.Errorf("loop: Config.Optimizer is nil; set it to an Adam (loop.NewAdam()) or an SGD")
	}
	if err := cfg.Optimizer.Validate(); err != nil {
		return nil, err
	}
	t := &Trainer{keep: cfg.KeepCheckpoints, data: ds, labels: cfg.Loss.Labels(), lossCfg: cfg.Loss, def: m, batch: ds.Len(), sessionConfig: cfg.Session}
	if t.keep == 0 {
		t.keep = DefaultKeepCheckpoints
	}
	batch := ds.X.Shape[0]
	if cfg.BatchSize > 0 {
		var err error
		if t.batches, err = data.NewBatcher(ds, cfg.BatchSize, cfg.DataSeed); err != nil {
			return nil, err
		}
		batch = int64(cfg.BatchSize)
		t.batch = cfg.BatchSize
	}
	if p := cfg.Parallel; p != nil {
		if err := p.Validate(batch); err != nil {
			return nil, err
		}
	}
	t.graph = tfgraph.NewGraph()
	g := t.graph // where the step's ops go: on the chief in a cluster
	var pl *placer
	if p := cfg.Parallel; p != nil {
		pl = newPlacer(p.Variables)
		g = g.WithDevice(p.Chief).PlaceVariables("", pl.place)
	}
	t.x = g.Placeholder("x", tf.Float, append([]int64{batch}, m.Input...))
	t.y = g.Placeholder("y", tf.Float, t.labels.Shape(batch, m.Classes()))
	if t.batches != nil {
		t.ahead = newPrefetcher(t.batches, t.x, t.y)
	}
	zero, err := tf.NewTensor(int64(0))
	if err != nil {
		return nil, fmt.Errorf("step counter: %w", err)
	}
	step := g.NewVariable("global_step", zero)
	env := qat.NewEnv(g, true, cfg.Ranges)
	env.Step = step.Read(g, "global_step/read")
	if m.Scheme != nil {
		env.Schedule = m.Scheme.Schedule
	}
	b := layers.NewBuilder(env, m.Scheme, init, cfg.Seed)
	if cfg.Parallel != nil {
		r, err := cfg.Parallel.buildReplicas(g, pl, env, b, m, t.x, t.y, cfg)
		if err != nil {
			return nil, err
		}
		inc := step.AssignAdd(g.WithDevice(cfg.Parallel.updateDevice()).WithControlDependencies(append([]*tf.Operation{r.train}, r.updates...)...), "global_step/increment", g.Const("one", int64(1)))
		t.loss, t.train, t.params, t.correct = r.loss, g.Group("train_step", inc), r.params, r.correct
	} else {
		built, err := m.Build(b, t.x)
		if err != nil {
			return nil, err
		}
		loss, err := cfg.Loss.Build(g, built.Logits, t.y)
		if err != nil {
			return nil, err
		}
		train, err := Minimize(g, loss, built.Params, cfg.Optimizer, cfg.Gradients)
		if err != nil {
			return nil, err
		}
		deps := append([]*tf.Operation{train}, built.Updates...)
		inc := step.AssignAdd(g.WithControlDependencies(deps...), "global_step/increment", g.Const("one", int64(1)))
		t.loss, t.train, t.params = loss, g.Group("train_step", inc), built.Params
		t.correct = correctCount(g.Scope("accuracy"), built.Logits, t.y, t.labels)
	}
	t.lr = learningRateNow(g.Scope("learning_rate_now"), step, cfg.Optimizer)

	// The inference graph: same variables, ranges only read.
	ienv := qat.NewEnv(g.Scope("inference"), false, nil)
	ienv.ShareRanges(env)
	b.Env = ienv
	t.evalX = g.Placeholder("eval_x", tf.Float, append([]int64{-1}, m.Input...))
	ib, err := m.Build(b, t.evalX)
	if err != nil {
		return nil, fmt.Errorf("inference graph: %w", err)
	}
	t.logits = ib.Logits
	if t.score, err = addScore(g.Scope("inference_metrics"), t.logits, m.Classes(), cfg.Loss); err != nil {
		return nil, fmt.Errorf("inference graph: %w", err)
	}
	t.model, t.ranges = map[string]bool{}, map[string]bool{}
	for _, v := range b.Variables() {
		t.model[v.Name] = true
	}
	for _, v := range env.RangeVariables() {
		t.ranges[v.Name] = true
	}
	t.vars = g.Variables()
	rs := g.Scope("state")
	for _, v := range t.vars {
		t.reads = append(t.reads, v.Read(rs, "read"))
	}
	var batchSize int64 // 0: full batch, whose order no seed changes
	var dataSeed uint64
	if t.batches != nil {
		batchSize, dataSeed = int64(cfg.BatchSize), cfg.DataSeed
	}
	t.ckpt = addCheckpointOps(g, t.vars, t.reads, batchSize, ds.X.Shape[0], dataSeed)
	initOp := g.InitOp()
	t.good = addLastGood(g, t.vars)
	if err := g.Err(); err != nil {
		return nil, err
	}
	sess, err := tfgraph.NewSession(g, cfg.Session)
	if err != nil {
		return nil, err
	}
	t.session = sess
	if _, err := sess.Run(nil, nil, []*tf.Operation{initOp}); err != nil {
		sess.Close()
		return nil, fmt.Errorf("initialise variables: %w", err)
	}
	if err := t.snapshotNow(); err != nil {
		sess.Close()
		return nil, err
	}
	if t.batches == nil {
		xt, err := tfgraph.NewTensor(ds.X.Shape, ds.X.Data)
		if err != nil {
			sess.Close()
			return nil, fmt.Errorf("data x: %w", err)
		}
		yt, err := tfgraph.NewTensor(ds.Y.Shape, ds.Y.Data)
		if err != nil {
			sess.Close()
			return nil, fmt.Errorf("data y: %w", err)
		}
		t.feeds = map[tf.Output]*tf.Tensor{t.x: xt, t.y: yt}
	}
	return t, nil
}

// Minimize adds the gradients of loss with respect to the params' forward
// values, taken with the gradient functions of reg (nil:
// tfgraph.DefaultRegistry()), and the optimizer's updates, and returns the
// op that applies them.
func Minimize(g *tfgraph.Graph, loss tf.Output, params []layers.Param, opt Optimizer, reg *tfgraph.Registry) (*tf.Operation, error) {
	if reg == nil {
		reg = tfgraph.DefaultRegistry()
	}
	xs := make([]tf.Output, len(params))
	vars := make([]*tfgraph.Variable, len(params))
	for i, p := range params {
		xs[i], vars[i] = p.Value, p.Var
	}
	grads, err := g.Gradients(reg, []tf.Output{loss}, xs, nil)
	if err != nil {
		return nil, err
	}
	train, _, err := opt.Apply(g, vars, grads)
	return train, err
}

// Step runs one training step as a single Session.Run: it returns the loss
// of the current weights and applies every update. If the loss is NaN or
// infinite, or the updates make a variable so, the step is undone and the
// error is a *DivergedError.
func (t *Trainer) Step() (float32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	loss, _, err := t.stepLocked()
	return loss, err
}

// stepLocked runs the next step and returns its loss and number.
func (t *Trainer) stepLocked() (float32, int, error) {
	feeds := t.feeds
	if t.batches != nil {
		b := t.ahead.take(t.batches.State())
		if b.err != nil {
			return 0, t.step + 1, fmt.Errorf("step %d: %w", t.step+1, b.err)
		}
		if err := t.batches.SetState(b.next); err != nil {
			return 0, t.step + 1, fmt.Errorf("step %d: %w", t.step+1, err)
		}
		feeds = b.feeds
		defer releaseFeeds(b.feeds) // this step's own
		t.ahead.start(b.next)       // the next batch is gathered while this step runs
	}
	return t.run(feeds)
}

// releaseFeeds frees the tensors of a step's own feeds once it has run
// (see tfgraph.Release).
func releaseFeeds(feeds map[tf.Output]*tf.Tensor) {
	for _, x := range feeds {
		tfgraph.Release(x)
	}
}

// StepOn runs one training step on the given batch instead of the next
// one (x and y must have the trainer's batch shape). A step after StepOn
// that diverges is undone back to the last snapshot (up to 19 steps
// back), as StepOn's batches cannot be run again.
func (t *Trainer) StepOn(x, y data.Array) (float32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	feeds, err := feedXY(t.x, t.y, x, y)
	if err != nil {
		return 0, fmt.Errorf("step %d: %w", t.step+1, err)
	}
	t.replayable = false
	loss, _, err := t.run(feeds)
	releaseFeeds(feeds)
	return loss, err
}

// run runs a step on feeds. A step whose loss is not finite, or after
// which (checked every snapshotEvery steps) a variable is not, is undone
// (diverged).
func (t *Trainer) run(feeds map[tf.Output]*tf.Tensor) (float32, int, error) {
	n := t.step + 1
	fetch := []tf.Output{t.loss}
	if t.correct.Op != nil {
		fetch = append(fetch, t.correct)
	}
	out, err := t.session.Run(feeds, fetch, []*tf.Operation{t.train})
	if err != nil {
		return 0, n, fmt.Errorf("step %d: %w", n, err)
	}
	t.lastCorrect = float32(math.NaN()) // a loss without an accuracy
	if len(out) > 1 {
		t.lastCorrect, _ = tfgraph.Value(out[1]).(float32)
	}
	loss, ok := tfgraph.Value(out[0]).(float32)
	tfgraph.Release(out...)
	if !ok {
		return 0, n, fmt.Errorf("step %d: loss has type %T", n, tfgraph.Value(out[0]))
	}
	if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
		return loss, n, t.diverged(append(slices.Clone(t.losses), loss), n)
	}
	t.step = n
	t.losses = append(t.losses, loss)
	t.corrects = append(t.corrects, t.lastCorrect)
	if n-t.snapStep >= snapshotEvery {
		ok, err := t.keepIfFinite()
		if err != nil {
			return loss, n, fmt.Errorf("step %d: %w", n, err)
		}
		if !ok {
			return loss, n, t.diverged(t.losses, n)
		}
	}
	return loss, n, nil
}

// Run runs steps training steps, calling report (if not nil) after each. It
// stops early when ctx is done or report returns an error.
func (t *Trainer) Run(ctx context.Context, steps int, report func(StepResult) error) error {
	for i := 0; i < steps; i++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("training stopped after step %d: %w", t.StepsDone(), err)
		}
		t.mu.Lock()
		loss, n, err := t.stepLocked()
		r := StepResult{Step: n, Loss: loss, Correct: t.lastCorrect, Examples: t.batch}
		t.mu.Unlock()
		if err != nil {
			return err
		}
		if report != nil {
			if err := report(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// Weights returns the model's variables by name: the float master
// weights and batch-norm statistics (not the quantizer ranges or the
// optimizer's state).
func (t *Trainer) Weights() (data.Weights, error) { return t.subset(t.model) }

// Ranges returns the quantizer range variables (<layer>/kernel_min, ...).
func (t *Trainer) Ranges() (data.Weights, error) { return t.subset(t.ranges) }

func (t *Trainer) subset(names map[string]bool) (data.Weights, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	all, err := t.state()
	if err != nil {
		return nil, err
	}
	w := data.Weights{}
	for n, a := range all {
		if names[n] {
			w[n] = a
		}
	}
	return w, nil
}

// Close releases the session; later calls return errors. On a cluster,
// TensorFlow's close waits for every task the session used, so a task
// that died keeps it waiting: Close gives up after ClusterCloseWait and
// says so, leaving the session to close in the background.
func (t *Trainer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ahead != nil {
		t.ahead.wait()
	}
	if t.sessionConfig.Target == "" {
		return t.session.Close()
	}
	done := make(chan error, 1)
	go func() { done <- t.session.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(ClusterCloseWait):
		return fmt.Errorf("close the session on %s: no answer in %v (a task of the cluster is down?); it closes in the background", t.sessionConfig.Target, ClusterCloseWait)
	}
}

// ClusterCloseWait is how long Close waits for a cluster session to close.
const ClusterCloseWait = 10 * time.Second
