package serve

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/savedmodel"
	bpb "github.com/wamuir/graft/tensorflow/serving/servables/tensorflow_go_proto"
	"google.golang.org/protobuf/encoding/prototext"
)

// Batching merges concurrent requests to one version into one session run
// (TF Serving's --enable_batching): a batch closes when it holds MaxBatch
// examples or Timeout after its first request arrived, whichever is first.
// A request of MaxBatch examples or more runs alone.
type Batching struct {
	MaxBatch int           // default 32
	Timeout  time.Duration // default 1ms
	Threads  int           // session runs at once (default: the cores)
}

// ReadBatchingParameters reads TF Serving's --batching_parameters_file (a
// text-format BatchingParameters): max_batch_size, batch_timeout_micros
// and num_batch_threads; other fields are errors naming them.
func ReadBatchingParameters(path string) (*Batching, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("serve: batching parameters: %w", err)
	}
	var p bpb.BatchingParameters
	if err := prototext.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("serve: batching parameters %s: %w", path, err)
	}
	for _, f := range []struct {
		set  bool
		name string
	}{{p.MaxEnqueuedBatches != nil, "max_enqueued_batches"}, {p.ThreadPoolName != nil, "thread_pool_name"},
		{p.EnableLargeBatchSplitting != nil, "enable_large_batch_splitting"}, {p.MaxExecutionBatchSize != nil, "max_execution_batch_size"},
		{len(p.AllowedBatchSizes) > 0, "allowed_batch_sizes"}, {p.PadVariableLengthInputs, "pad_variable_length_inputs"}} {
		if f.set {
			return nil, fmt.Errorf("serve: batching parameters %s: %s is not supported", path, f.name)
		}
	}
	return &Batching{MaxBatch: int(p.GetMaxBatchSize().GetValue()),
		Timeout: time.Duration(p.GetBatchTimeoutMicros().GetValue()) * time.Microsecond,
		Threads: int(p.GetNumBatchThreads().GetValue())}, nil
}

func (b Batching) withDefaults() Batching {
	if b.MaxBatch <= 0 {
		b.MaxBatch = 32
	}
	if b.Timeout <= 0 {
		b.Timeout = time.Millisecond
	}
	if b.Threads <= 0 {
		b.Threads = runtime.NumCPU()
	}
	return b
}

// task is one request waiting in a batcher.
type task struct {
	x    data.Array
	done chan taskResult
}

type taskResult struct {
	y   data.Array
	err error
}

// batcher runs a version's requests in merged batches.
type batcher struct {
	cfg     Batching
	observe func(examples int) // each session run's size
	m       *savedmodel.Model
	in      chan task
	quit    chan struct{}
}

func newBatcher(m *savedmodel.Model, cfg Batching, observe func(int)) *batcher {
	b := &batcher{cfg: cfg.withDefaults(), observe: observe, m: m, in: make(chan task), quit: make(chan struct{})}
	for range b.cfg.Threads {
		go b.loop()
	}
	return b
}

// run predicts x, merged with other requests when it is small enough.
func (b *batcher) run(x data.Array) (data.Array, error) {
	if int(x.Shape[0]) >= b.cfg.MaxBatch {
		b.observe(int(x.Shape[0]))
		return b.m.PredictBatches(x, int(x.Shape[0]))
	}
	t := task{x: x, done: make(chan taskResult, 1)}
	b.in <- t
	r := <-t.done
	return r.y, r.err
}

// stop ends the loops; only once no request can call run.
func (b *batcher) stop() { close(b.quit) }

func (b *batcher) loop() {
	for {
		var first task
		select {
		case <-b.quit:
			return
		case first = <-b.in:
		}
		batch := []task{first}
		rows := int(first.x.Shape[0])
		timer := time.NewTimer(b.cfg.Timeout)
	fill:
		for rows < b.cfg.MaxBatch {
			select {
			case t := <-b.in:
				if rows+int(t.x.Shape[0]) > b.cfg.MaxBatch {
					b.runBatch(batch, rows)
					batch, rows = nil, 0
				}
				batch = append(batch, t)
				rows += int(t.x.Shape[0])
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		b.runBatch(batch, rows)
	}
}

// runBatch runs the tasks' examples in one session run and hands each
// its rows.
func (b *batcher) runBatch(batch []task, rows int) {
	if len(batch) == 0 {
		return
	}
	shape := append([]int64{int64(rows)}, batch[0].x.Shape[1:]...)
	all := make([]float32, 0, rows*len(batch[0].x.Data)/int(batch[0].x.Shape[0]))
	for _, t := range batch {
		all = append(all, t.x.Data...)
	}
	b.observe(rows)
	y, err := b.m.PredictBatches(data.Array{Shape: shape, Data: all}, rows)
	if err != nil {
		for _, t := range batch {
			t.done <- taskResult{err: err}
		}
		return
	}
	per := len(y.Data) / rows
	at := 0
	for _, t := range batch {
		n := int(t.x.Shape[0])
		t.done <- taskResult{y: data.Array{Shape: append([]int64{int64(n)}, y.Shape[1:]...), Data: y.Data[at*per : (at+n)*per]}}
		at += n
	}
}
