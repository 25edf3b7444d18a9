package tensorboard

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// TensorFlow's defaults for tf.summary.create_file_writer, named once.
const (
	// DefaultMaxQueue is how many summaries the writer holds before it
	// writes them to the file.
	DefaultMaxQueue = 10
	// DefaultFlushMillis is how often (in milliseconds) it writes them at
	// the latest.
	DefaultFlushMillis = 120000
	// DefaultFilenameSuffix ends the event file's name.
	DefaultFilenameSuffix = ".v2"
)

// Options tune a Writer as the arguments of tf.summary.create_file_writer
// do; zero values take TensorFlow's defaults.
type Options struct {
	MaxQueue       int
	FlushMillis    int
	FilenameSuffix string
}

// Writer writes TensorBoard event files into one folder with TensorFlow's
// own summary kernels: it holds a small graph with a SummaryWriter resource
// (CreateSummaryFileWriter) and the WriteScalarSummary,
// WriteHistogramSummary, FlushSummaryWriter and CloseSummaryWriter ops,
// run in a session of its own. Values come in through placeholders, so the
// files are exactly what tf.summary.scalar and tf.summary.histogram would
// write for the same numbers.
//
// A Writer is safe for concurrent use; its methods run one at a time.
type Writer struct {
	mu     sync.Mutex
	dir    string
	sess   *tf.Session
	step   tf.Output // int64 scalar
	tag    tf.Output // string scalar
	scalar tf.Output // float32 scalar
	values tf.Output // float32 vector
	writeScalar, writeHist,
	flush, close *tf.Operation
	closed bool
}

// NewWriter opens a Writer on dir with TensorFlow's default options. The
// folder is created if missing; an error (e.g. a folder that cannot be
// created or written) comes back here, before anything is logged.
func NewWriter(dir string) (*Writer, error) { return Open(dir, Options{}) }

// Open is NewWriter with options.
func Open(dir string, o Options) (*Writer, error) {
	if dir == "" {
		return nil, errors.New("tensorboard: empty log folder")
	}
	if o.MaxQueue < 0 || o.FlushMillis < 0 || o.MaxQueue > math.MaxInt32 || o.FlushMillis > math.MaxInt32 {
		return nil, fmt.Errorf("tensorboard: max_queue %d and flush_millis %d must be in 0..%d", o.MaxQueue, o.FlushMillis, math.MaxInt32)
	}
	if o.MaxQueue == 0 {
		o.MaxQueue = DefaultMaxQueue
	}
	if o.FlushMillis == 0 {
		o.FlushMillis = DefaultFlushMillis
	}
	if o.FilenameSuffix == "" {
		o.FilenameSuffix = DefaultFilenameSuffix
	}
	if err := writable(dir); err != nil {
		return nil, err
	}
	g := tfgraph.NewGraph()
	w := &Writer{dir: dir}
	res := g.Op1("SummaryWriter", "writer", nil, map[string]any{"shared_name": "writer"})
	create := g.Op("CreateSummaryFileWriter", "create", []any{res,
		g.Const("logdir", dir), g.Const("max_queue", int32(o.MaxQueue)),
		g.Const("flush_millis", int32(o.FlushMillis)), g.Const("filename_suffix", o.FilenameSuffix)}, nil)
	w.step = g.Placeholder("step", tf.Int64, []int64{})
	w.tag = g.Placeholder("tag", tf.String, []int64{})
	w.scalar = g.Placeholder("scalar", tf.Float, []int64{})
	w.values = g.Placeholder("values", tf.Float, []int64{-1})
	w.writeScalar = g.Op("WriteScalarSummary", "write_scalar", []any{res, w.step, w.tag, w.scalar}, nil)
	w.writeHist = g.Op("WriteHistogramSummary", "write_histogram", []any{res, w.step, w.tag, w.values}, nil)
	w.flush = g.Op("FlushSummaryWriter", "flush", []any{res}, nil)
	w.close = g.Op("CloseSummaryWriter", "close", []any{res}, nil)
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("tensorboard: summary graph: %w", err)
	}
	sess, err := tfgraph.NewSession(g, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps, Numerics: tfgraph.EagerNumerics})
	if err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	if _, err := sess.Run(nil, nil, []*tf.Operation{create}); err != nil {
		sess.Close()
		return nil, fmt.Errorf("tensorboard: cannot write event files to %s: %s", dir, firstLine(err))
	}
	w.sess = sess
	return w, nil
}

// Dir returns the folder the Writer writes to.
func (w *Writer) Dir() string { return w.dir }

// Scalar is one named value of a Scalars call.
type Scalar struct {
	Tag   string
	Value float32
}

// Scalars writes each value under its tag at step, in the order of the
// tags (sorted, so a map gives the same file every time).
func (w *Writer) Scalars(step int64, values map[string]float32) error {
	list := make([]Scalar, 0, len(values))
	for _, tag := range sortedKeys(values) {
		list = append(list, Scalar{tag, values[tag]})
	}
	return w.ScalarList(step, list)
}

// ScalarList writes the values in the given order at step.
func (w *Writer) ScalarList(step int64, values []Scalar) error {
	st, err := tf.NewTensor(step)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range values {
		v, err := tf.NewTensor(s.Value)
		if err != nil {
			return fmt.Errorf("tensorboard: scalar %s: %w", s.Tag, err)
		}
		if err := w.write(w.writeScalar, st, s.Tag, w.scalar, v); err != nil {
			return err
		}
	}
	return nil
}

// Histograms writes a histogram of each tag's values at step (tags in
// sorted order), with the buckets TensorFlow's kernel chooses. Values must
// be finite: TensorFlow refuses NaN and infinities in a histogram.
func (w *Writer) Histograms(step int64, values map[string][]float32) error {
	st, err := tf.NewTensor(step)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, tag := range sortedKeys(values) {
		v, err := tf.NewTensor(values[tag])
		if err != nil {
			return fmt.Errorf("tensorboard: histogram %s: %w", tag, err)
		}
		if err := w.write(w.writeHist, st, tag, w.values, v); err != nil {
			return err
		}
	}
	return nil
}

// write runs op with the step, tag and value fed.
func (w *Writer) write(op *tf.Operation, step *tf.Tensor, tag string, in tf.Output, v *tf.Tensor) error {
	if w.closed {
		return fmt.Errorf("tensorboard: %s: writer is closed", tag)
	}
	tt, err := tf.NewTensor(tag)
	if err != nil {
		return fmt.Errorf("tensorboard: tag %q: %w", tag, err)
	}
	if _, err := w.sess.Run(map[tf.Output]*tf.Tensor{w.step: step, w.tag: tt, in: v}, nil, []*tf.Operation{op}); err != nil {
		return fmt.Errorf("tensorboard: write %s to %s: %w", tag, w.dir, err)
	}
	return nil
}

// Flush writes what the writer holds to the event file.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("tensorboard: flush: writer is closed")
	}
	if _, err := w.sess.Run(nil, nil, []*tf.Operation{w.flush}); err != nil {
		return fmt.Errorf("tensorboard: flush %s: %w", w.dir, err)
	}
	return nil
}

// Close flushes and closes the event file and releases the session. A
// second Close does nothing.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	_, err := w.sess.Run(nil, nil, []*tf.Operation{w.close})
	if cerr := w.sess.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tensorboard: close %s: %w", w.dir, err)
	}
	return nil
}

// writable makes dir if missing and checks that a file can be created in
// it, so that a bad folder is a plain error before TensorFlow (which logs
// its own failures) is asked to write there.
func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("tensorboard: cannot make the log folder: %w", err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("tensorboard: cannot write event files to %s: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// firstLine is err's message without the op context TensorFlow appends.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
