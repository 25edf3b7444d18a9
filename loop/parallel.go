package loop

import (
	"errors"
	"fmt"
	"sync"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// DataParallel spreads each training step over the tasks of a TensorFlow
// cluster, synchronously: the variables (weights, quantizer ranges, the
// optimizer's state, the step counter) live on the Variables devices; one
// replica per worker computes the loss and gradients on its shard of the
// global batch; the gradients are averaged and applied once, and every
// quantizer's range is updated once from the whole global batch (the
// minimum of the replicas' batch minimums, the maximum of their maximums),
// so the ranges are those of a single process. A step is one Session.Run
// from the chief, whose session target (SessionConfig.Target) is a server
// of the cluster.
//
// A batch norm (also one folded into its convolution) normalizes with
// the global batch's moments (the replicas' moments averaged on the
// variables' device, as Keras's SyncBatchNormalization) and updates its
// moving statistics once; the gradients are those of the global batch's
// loss, each gradient op on its forward op's device. Dropout draws one
// process's masks (each replica its rows of the global batch's).
// Learnable ranges have no data-parallel form yet; a model with them is
// refused.
type DataParallel struct {
	// Workers are the replicas' devices, e.g. "/job:worker/task:0", in
	// the order they take the global batch's rows: replica i gets rows
	// [i*B/n, (i+1)*B/n), so the batch size must divide by len(Workers).
	Workers []string
	// Variables are the devices that hold the variables ("/job:ps/task:0",
	// or the chief's when there is no ps job). Each variable is placed
	// whole, on the device with the fewest bytes so far, in the order the
	// variables are made.
	Variables []string
	// Chief is the device of everything else: the feeds, the loss and
	// accuracy of the step, checkpoints and the inference graph.
	Chief string
}

// Validate checks the devices and that batch rows split evenly.
func (p *DataParallel) Validate(batch int64) error {
	switch {
	case len(p.Workers) == 0:
		return errors.New("data parallel: no worker devices")
	case len(p.Variables) == 0:
		return errors.New("data parallel: no devices for the variables")
	case p.Chief == "":
		return errors.New("data parallel: no chief device")
	case batch%int64(len(p.Workers)) != 0:
		return fmt.Errorf("data parallel: the global batch of %d rows does not split evenly over %d workers", batch, len(p.Workers))
	}
	return nil
}

// placer puts each new variable on the least loaded device (by bytes).
type placer struct {
	devices []string
	bytes   []int64 // placed on each device so far
}

func newPlacer(devices []string) *placer {
	return &placer{devices: devices, bytes: make([]int64, len(devices))}
}

func (p *placer) place(_ string, bytes int64) string {
	k := 0
	for i := range p.bytes {
		if p.bytes[i] < p.bytes[k] {
			k = i
		}
	}
	p.bytes[k] += bytes
	return p.devices[k]
}

// updateDevice is where ops that update variables are built: the one
// variables device, or, with several, none (TensorFlow colocates each
// update with its variable).
func (p *DataParallel) updateDevice() string {
	if len(p.Variables) == 1 {
		return p.Variables[0]
	}
	return ""
}

// replicated is the training step built over the replicas.
type replicated struct {
	loss, correct tf.Output
	train         *tf.Operation
	updates       []*tf.Operation // batch norms' moving statistics, once
	params        []layers.Param
}

// buildReplicas builds the replicas of m on shards of x and y (on the
// chief, in root), their losses and gradients, and the averaged update.
func (p *DataParallel) buildReplicas(root *tfgraph.Graph, pl *placer, env *qat.Env, b *layers.Builder, m models.Model, x, y tf.Output, cfg Config) (*replicated, error) {
	n := len(p.Workers)
	xDims, err := tfgraph.ShapeOf(x)
	if err != nil {
		return nil, err
	}
	yDims, err := tfgraph.ShapeOf(y)
	if err != nil {
		return nil, err
	}
	per := xDims[0] / int64(n)
	shared := root.WithDevice(p.updateDevice())
	r := newRing(n, shared)
	views := make([]*tfgraph.Graph, n)
	xs, ys := make([]tf.Output, n), make([]tf.Output, n)
	builds := make([]*models.Built, n)
	errs := make([]error, n)
	for i := range n {
		sh := root.Scope(fmt.Sprintf("shard_%d", i))
		xs[i] = shard(sh, "x", x, xDims, int64(i)*per, per)
		ys[i] = shard(sh, "y", y, yDims, int64(i)*per, per)
		v := root.Scope(fmt.Sprintf("replica_%d", i)).WithDevice(p.Workers[i])
		views[i] = v.PlaceVariables(v.FullName(""), pl.place)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(i, func(rv qat.Rendezvous) {
				rb := b.Replica(env.Replica(views[i], rv))
				builds[i], errs[i] = m.Build(rb, xs[i])
			})
		}()
	}
	r.start()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := root.Err(); err != nil {
		return nil, err
	}
	reg := cfg.Gradients
	if reg == nil {
		reg = tfgraph.DefaultRegistry()
	}
	// The replicas' losses are one loss, the global batch's: with batch
	// norms' global moments each replica's rows reach every replica's
	// loss. So the gradients are those of the sum of the losses with
	// respect to every replica's reads of the variables, each gradient op
	// on its forward op's device.
	var losses, corrects, shardLosses, reads []tf.Output
	var updates []*tf.Operation
	for i, bi := range builds {
		updates = append(updates, bi.Updates...)
		loss, values, err := cfg.Loss.Shard(views[i], bi.Logits, ys[i], xDims[0])
		if err != nil {
			return nil, err
		}
		if len(bi.Params) != len(builds[0].Params) {
			return nil, fmt.Errorf("data parallel: replica %d reads %d trainable variables, replica 0 %d", i, len(bi.Params), len(builds[0].Params))
		}
		for _, pr := range bi.Params {
			reads = append(reads, pr.Value)
		}
		shardLosses = append(shardLosses, loss)
		losses = append(losses, values)
		if c := correctCount(views[i].Scope("accuracy"), bi.Logits, ys[i], cfg.Loss.Labels()); c.Op != nil {
			corrects = append(corrects, c)
		}
	}
	all, err := root.GradientsColocated(reg, shardLosses, reads, nil)
	if err != nil {
		return nil, fmt.Errorf("data parallel: %w", err)
	}
	grads := make([][]tf.Output, n)
	for i := range n {
		k := len(builds[0].Params)
		grads[i] = all[i*k : (i+1)*k]
	}
	params := builds[0].Params
	vars := make([]*tfgraph.Variable, len(params))
	sum := make([]tf.Output, len(params))
	a := shared.Scope("gradients_sum")
	for j, pr := range params {
		vars[j] = pr.Var
		terms := make([]tf.Output, n)
		for i := range n {
			terms[i] = grads[i][j]
		}
		sum[j] = a.AddN(fmt.Sprintf("grad_%d", j), terms)
	}
	train, _, err := cfg.Optimizer.Apply(shared, vars, sum)
	if err != nil {
		return nil, err
	}
	out := &replicated{train: train, updates: updates, params: params}
	values := losses[0] // ConcatV2 takes two or more
	if n > 1 {
		values = root.Op1("ConcatV2", "loss_values", []any{losses, root.Const("axis", int32(0))}, nil)
	}
	if err := root.Err(); err != nil {
		return nil, err
	}
	if out.loss, err = cfg.Loss.Reduce(root, values); err != nil {
		return nil, err
	}
	if len(corrects) == n {
		out.correct = root.AddN("correct", corrects)
	}
	return out, root.Err()
}

// shard returns rows [from, from+rows) of t (whose shape is dims).
func shard(g *tfgraph.Graph, name string, t tf.Output, dims []int64, from, rows int64) tf.Output {
	begin := make([]int64, len(dims))
	size := append([]int64{rows}, dims[1:]...)
	begin[0] = from
	return g.Op1("Slice", name, []any{t, g.Const(name+"/begin", begin), g.Const(name+"/size", size)}, nil)
}
