package loop

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/atomicfile"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// A checkpoint is a folder dir/ckpt-<step, 9 digits> holding one
// TensorFlow tensor bundle (SaveV2's format) under the prefix "ckpt":
// ckpt.index and ckpt.data-00000-of-00001, plus a "checkpoint" state file
// so that Python's tf.train.load_checkpoint reads the folder or the prefix.
// The bundle holds every variable of the trainer under its graph name
// (c1/kernel, c1/kernel_min, adam/c1_kernel/m, adam/iterations,
// global_step, ...) and the trainer's own state under "_trainer/" and
// "_data/" (step, losses, data order, and what the run was: batch size,
// data seed, number of examples and a SHA-256 of the training data), so a
// restored trainer continues bit for bit.
//
// Format 2 added _data/sha256. Checkpoints of format 1 (written before it)
// are refused: without the fingerprint a resume cannot tell whether the
// data are the same.
const (
	// DefaultKeepCheckpoints is how many checkpoints Save keeps in its
	// folder when Config.KeepCheckpoints is 0.
	DefaultKeepCheckpoints = 3

	ckptName      = "ckpt-"      // checkpoint folders: ckpt-000000012
	ckptPrefix    = "ckpt"       // the bundle's prefix inside the folder
	ckptTmp       = ".tmp-ckpt-" // folders being written or replaced
	ckptFormat    = 2            // _trainer/format
	ckptStateFile = "checkpoint" // tf.train.get_checkpoint_state's file
)

// Entries of a checkpoint besides the variables.
const (
	keyFormat    = "_trainer/format"    // int64, ckptFormat
	keyStep      = "_trainer/step"      // int64, steps done
	keyLosses    = "_trainer/losses"    // float32 [step], the loss of each step
	keyVariables = "_trainer/variables" // string [N], the variables' names
	keyEpoch     = "_data/epoch"        // int64, the Batcher's epoch
	keyIndex     = "_data/index"        // int64, the Batcher's next batch
	keyBatch     = "_data/batch_size"   // int64, 0 for full batch
	keyExamples  = "_data/examples"     // int64, examples in the data set
	keySeed      = "_data/seed"         // int64, the data seed's bits
	keyData      = "_data/sha256"       // string, dataFingerprint of x and y
)

// ErrNoCheckpoint is returned (wrapped) by RestoreLatest when its folder
// holds no checkpoint at all.
var ErrNoCheckpoint = errors.New("no checkpoint")

// ckptGraph is the part of the trainer's graph that saves and restores.
type ckptGraph struct {
	prefix                    tf.Output // string scalar: <folder>/ckpt
	step, epoch, index        tf.Output // int64 placeholders, for SaveV2
	losses                    tf.Output // float32 [-1] placeholder
	data                      tf.Output // string placeholder, the fingerprint
	format                    tf.Output // RestoreV2 of keyFormat alone
	save                      *tf.Operation
	meta                      []tf.Output // RestoreV2 of the metaKeys
	values                    []tf.Output // RestoreV2 of the variables
	assignIn                  []tf.Output // one placeholder per variable
	assign                    *tf.Operation
	assignOne                 []*tf.Operation // assignIn[i] to variable i
	batch, examples, dataSeed int64
}

// metaKeys are the entries restored (and checked) before the variables.
var metaKeys = []struct {
	name  string
	dtype tf.DataType
}{
	{keyFormat, tf.Int64}, {keyStep, tf.Int64}, {keyLosses, tf.Float}, {keyVariables, tf.String},
	{keyEpoch, tf.Int64}, {keyIndex, tf.Int64}, {keyBatch, tf.Int64}, {keyExamples, tf.Int64}, {keySeed, tf.Int64},
	{keyData, tf.String},
}

// addCheckpointOps adds SaveV2 over every variable (through reads) and the
// trainer's state, and the RestoreV2 and assign ops, under "checkpoint/".
func addCheckpointOps(g *tfgraph.Graph, vars []*tfgraph.Variable, reads []tf.Output, batch, examples int64, seed uint64) ckptGraph {
	s := g.Scope("checkpoint")
	c := ckptGraph{batch: batch, examples: examples, dataSeed: int64(seed)}
	c.prefix = s.Placeholder("prefix", tf.String, []int64{})
	c.step = s.Placeholder("step", tf.Int64, []int64{})
	c.epoch = s.Placeholder("epoch", tf.Int64, []int64{})
	c.index = s.Placeholder("index", tf.Int64, []int64{})
	c.losses = s.Placeholder("losses", tf.Float, []int64{-1})
	c.data = s.Placeholder("data_sha256", tf.String, []int64{})
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.Name
	}
	meta := map[string]tf.Output{
		keyFormat: s.Const("format", int64(ckptFormat)), keyStep: c.step, keyLosses: c.losses,
		keyVariables: s.Const("variables", names), keyEpoch: c.epoch, keyIndex: c.index,
		keyBatch: s.Const("batch_size", batch), keyExamples: s.Const("examples", examples),
		keySeed: s.Const("data_seed", int64(seed)), keyData: c.data,
	}
	var keys []string
	var tensors []tf.Output
	var metaTypes []tf.DataType
	for _, k := range metaKeys {
		keys = append(keys, k.name)
		tensors = append(tensors, meta[k.name])
		metaTypes = append(metaTypes, k.dtype)
	}
	keys = append(keys, names...)
	tensors = append(tensors, reads...)
	c.save = s.Op("SaveV2", "save", []any{c.prefix, s.Const("names", keys), s.Const("slices", make([]string, len(keys))), tensors}, nil)

	if op := s.Op("RestoreV2", "restore_format", []any{c.prefix, s.Const("format_names", []string{keyFormat}),
		s.Const("format_slices", []string{""})}, map[string]any{"dtypes": []tf.DataType{tf.Int64}}); op != nil {
		c.format = op.Output(0)
	}
	metaNames := keys[:len(metaKeys)]
	if op := s.Op("RestoreV2", "restore_meta", []any{c.prefix, s.Const("meta_names", metaNames),
		s.Const("meta_slices", make([]string, len(metaNames)))}, map[string]any{"dtypes": metaTypes}); op != nil {
		for i := range metaNames {
			c.meta = append(c.meta, op.Output(i))
		}
	}
	if len(vars) == 0 {
		return c
	}
	types := make([]tf.DataType, len(vars))
	for i, v := range vars {
		types[i] = v.DType
	}
	if op := s.Op("RestoreV2", "restore", []any{c.prefix, s.Const("var_names", names),
		s.Const("var_slices", make([]string, len(names)))}, map[string]any{"dtypes": types}); op != nil {
		for i := range vars {
			c.values = append(c.values, op.Output(i))
		}
	}
	a := s.Scope("assign")
	var assigns []*tf.Operation
	for _, v := range vars {
		in := a.Placeholder("value", v.DType, v.Shape)
		c.assignIn = append(c.assignIn, in)
		assigns = append(assigns, v.Assign(a, "assign", in))
	}
	c.assign, c.assignOne = s.Group("assign_all", assigns...), assigns
	return c
}

// StepsDone returns the number of training steps run so far, counting
// those of a restored checkpoint.
func (t *Trainer) StepsDone() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.step
}

// Losses returns the loss of every step run so far (of the restored
// checkpoint's steps too), step 1 first.
func (t *Trainer) Losses() []float32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.losses)
}

// Save writes a checkpoint of the trainer's whole state to the folder
// dir/ckpt-<step> (step zero-padded to 9 digits) and returns its path.
// tf.train.load_checkpoint reads it, under the variables' graph names.
//
// The checkpoint is written into a temporary folder in dir, synced to
// disk and renamed, so a crash never leaves a half checkpoint under a
// checkpoint name (a leftover .tmp-ckpt-* folder is ignored, and removed
// by the next Save). A checkpoint of the same step is replaced. Then Save
// keeps the newest Config.KeepCheckpoints checkpoints and removes the
// older ones, and also any of a later step than this one: those belong to
// a run this trainer's state did not come from (as when it was restored
// from an older checkpoint because the newer ones were corrupt). One
// trainer at a time may save into a folder.
func (t *Trainer) Save(dir string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	final := filepath.Join(dir, fmt.Sprintf("%s%09d", ckptName, t.step))
	if err := t.save(dir, final); err != nil {
		return "", fmt.Errorf("checkpoint step %d: %w", t.step, err)
	}
	if err := prune(dir, t.step, t.keep); err != nil {
		return final, fmt.Errorf("checkpoint step %d written to %s, but removing old checkpoints failed: %w", t.step, final, err)
	}
	return final, nil
}

func (t *Trainer) save(dir, final string) error {
	if err := os.MkdirAll(dir, atomicfile.DirMode); err != nil {
		return err
	}
	tmp, err := atomicfile.MkdirTemp(dir, ckptTmp)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	var st data.BatchState
	if t.batches != nil {
		st = t.batches.State()
	}
	losses := t.losses
	if losses == nil {
		losses = []float32{}
	}
	feeds := map[tf.Output]*tf.Tensor{}
	for o, v := range map[tf.Output]any{
		t.ckpt.prefix: filepath.Join(tmp, ckptPrefix), t.ckpt.step: int64(t.step),
		t.ckpt.epoch: int64(st.Epoch), t.ckpt.index: int64(st.Index), t.ckpt.losses: losses,
		t.ckpt.data: t.fingerprint(),
	} {
		tv, err := tf.NewTensor(v)
		if err != nil {
			return err
		}
		feeds[o] = tv
	}
	if _, err := t.session.Run(feeds, nil, []*tf.Operation{t.ckpt.save}); err != nil {
		return fmt.Errorf("save in %s: %w", tmp, err)
	}
	if err := writeCorrects(filepath.Join(tmp, correctFile), t.corrects); err != nil {
		return err
	}
	state := fmt.Sprintf("model_checkpoint_path: %q\nall_model_checkpoint_paths: %q\n", ckptPrefix, ckptPrefix)
	if err := os.WriteFile(filepath.Join(tmp, ckptStateFile), []byte(state), atomicfile.FileMode); err != nil {
		return err
	}
	if err := syncFolder(tmp, true); err != nil {
		return err
	}
	// Move a checkpoint of the same step aside, to a fresh unused name
	// (os.Rename does not replace folders), put the new one in its place,
	// then drop the old one.
	var old string
	if _, err := os.Stat(final); err == nil {
		if old, err = atomicfile.MkdirTemp(dir, ckptTmp); err != nil {
			return err
		}
		if err := os.Remove(old); err != nil {
			return err
		}
		if err := os.Rename(final, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if old != "" {
			os.Rename(old, final)
		}
		return err
	}
	done = true
	if old != "" {
		os.RemoveAll(old)
	}
	if err := syncFolder(dir, false); err != nil {
		return err
	}
	// Python's tf.train.latest_checkpoint(dir) reads this file; qat's own
	// RestoreLatest lists the folders instead.
	latest := fmt.Sprintf("model_checkpoint_path: %q\n", filepath.Join(filepath.Base(final), ckptPrefix))
	return atomicfile.WriteFile(filepath.Join(dir, ckptStateFile), []byte(latest))
}

// syncFolder fsyncs dir (and, with files, the files in it).
func syncFolder(dir string, files bool) error {
	if files {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				if err := atomicfile.Sync(filepath.Join(dir, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	return atomicfile.Sync(dir)
}

// prune keeps the newest keep checkpoints of step <= step in dir (the one
// of step among them) and removes the others and leftover temporary
// folders.
func prune(dir string, step, keep int) error {
	cks, err := Checkpoints(dir)
	if err != nil {
		return err
	}
	var errs []error
	kept := 0
	for _, c := range cks { // newest first
		if c.Step <= step && (keep < 0 || kept < keep) {
			kept++
			continue
		}
		if err := os.RemoveAll(c.Path); err != nil {
			errs = append(errs, err)
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ckptTmp+"*"))
	for _, p := range tmps {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Checkpoint is one checkpoint folder.
type Checkpoint struct {
	Path string
	Step int
}

// Checkpoints lists the checkpoint folders in dir (ckpt-<step>), newest
// (highest step) first, without reading them. A missing dir has none.
func Checkpoints(dir string) ([]Checkpoint, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var out []Checkpoint
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), ckptName)
		if !ok || !e.IsDir() || num == "" || strings.Trim(num, "0123456789") != "" {
			continue
		}
		step, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		out = append(out, Checkpoint{Path: filepath.Join(dir, e.Name()), Step: step})
	}
	slices.SortFunc(out, func(a, b Checkpoint) int { return b.Step - a.Step })
	return out, nil
}

// fingerprint returns the SHA-256 of the training data (computed once).
func (t *Trainer) fingerprint() string {
	if t.dataSum == "" {
		t.dataSum = dataFingerprint(t.data)
	}
	return t.dataSum
}

// dataFingerprint is "sha256:" and the hex SHA-256 of x's and y's shapes
// (int64s) and values (float32 bits), little-endian: two data sets with
// the same shapes but other values differ.
func dataFingerprint(d data.Dataset) string {
	h := sha256.New()
	buf := make([]byte, 0, 1<<16)
	for _, a := range []data.Array{d.X, d.Y} {
		buf = binary.LittleEndian.AppendUint64(buf[:0], uint64(len(a.Shape)))
		for _, n := range a.Shape {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(n))
		}
		h.Write(buf)
		for i := 0; i < len(a.Data); {
			buf = buf[:0]
			for ; i < len(a.Data) && len(buf) < cap(buf); i++ {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(a.Data[i]))
			}
			h.Write(buf)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
