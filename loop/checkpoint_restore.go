package loop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
)

// RestoreLatest restores the newest checkpoint in dir that restores
// cleanly and returns its path. Checkpoints that fail (truncated,
// corrupt, of another model) are skipped; skipped holds their errors,
// newest first, for the caller to report. It fails, with every
// checkpoint's error, if none restores, and with an error wrapping
// ErrNoCheckpoint if dir holds no checkpoint.
func (t *Trainer) RestoreLatest(dir string) (path string, skipped []error, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cks, err := Checkpoints(dir)
	if err != nil {
		return "", nil, err
	}
	if len(cks) == 0 {
		return "", nil, fmt.Errorf("%w in %s", ErrNoCheckpoint, dir)
	}
	for _, c := range cks {
		if err := t.restoreFrom(c.Path); err != nil {
			skipped = append(skipped, err)
			continue
		}
		return c.Path, skipped, nil
	}
	return "", skipped, fmt.Errorf("none of the %d checkpoints in %s can be restored:\n%w", len(cks), dir, errors.Join(skipped...))
}

// Restore sets the trainer's whole state (every variable, the step count,
// the losses so far, the position in the data) from the checkpoint folder
// path written by Save. The checkpoint must come from the same model (the
// same variables, shapes and types) trained on the same data with the
// same batch size and data seed. The checks and reads come first: if
// Restore fails, the trainer's state is unchanged.
func (t *Trainer) Restore(path string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.restoreFrom(path)
}

func (t *Trainer) restoreFrom(path string) error {
	if err := t.restore(path); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

func (t *Trainer) restore(path string) error {
	prefix := filepath.Join(path, ckptPrefix)
	for _, f := range []string{prefix + ".index", prefix + ".data-00000-of-00001"} {
		info, err := os.Stat(f)
		if err != nil {
			return err
		}
		if info.Size() == 0 {
			return fmt.Errorf("%s is empty", f)
		}
	}
	pt, err := tf.NewTensor(prefix)
	if err != nil {
		return err
	}
	feeds := map[tf.Output]*tf.Tensor{t.ckpt.prefix: pt}
	format, err := t.session.Run(feeds, []tf.Output{t.ckpt.format}, nil)
	if err != nil {
		return unreadable(prefix, err)
	}
	switch f, _ := tfgraph.Value(format[0]).(int64); {
	case f == 1:
		return fmt.Errorf("format 1, of an older qat, which did not record a fingerprint of the training data; this qat reads format %d, and cannot check that the data are the same: start a new run", ckptFormat)
	case f != ckptFormat:
		return fmt.Errorf("format %d; this qat reads format %d", f, ckptFormat)
	}
	meta, err := t.session.Run(feeds, t.ckpt.meta, nil)
	if err != nil {
		return unreadable(prefix, err)
	}
	m := map[string]*tf.Tensor{}
	ints := map[string]int64{}
	for i, k := range metaKeys {
		m[k.name] = meta[i]
		if k.dtype == tf.Int64 {
			v, ok := tfgraph.Value(meta[i]).(int64)
			if !ok {
				return fmt.Errorf("%s has shape %v, want a scalar", k.name, meta[i].Shape())
			}
			ints[k.name] = v
		}
	}
	if err := t.sameModel(m[keyVariables]); err != nil {
		return err
	}
	for _, c := range []struct {
		key  string
		want int64
		what string
	}{
		{keyBatch, t.ckpt.batch, "batch size"},
		{keyExamples, t.ckpt.examples, "data set size"},
		{keySeed, t.ckpt.dataSeed, "data seed"},
	} {
		if got := ints[c.key]; got != c.want {
			return fmt.Errorf("it was trained with %s %d, this trainer has %d: resuming would not continue the same run", c.what, got, c.want)
		}
	}
	if sum, _ := tfgraph.Value(m[keyData]).(string); sum != t.fingerprint() {
		return fmt.Errorf("it was trained on other data (%s %s, this trainer's data %s): the data differ, though their shapes are the same; resuming would not continue the same run", keyData, sum, t.fingerprint())
	}
	step := ints[keyStep]
	losses, ok := tfgraph.Value(m[keyLosses]).([]float32)
	if !ok || step < 0 || int64(len(losses)) != step {
		return fmt.Errorf("inconsistent: step %d with losses of shape %v", step, m[keyLosses].Shape())
	}
	epoch, index := ints[keyEpoch], ints[keyIndex]
	if t.batches != nil && (epoch < 0 || index < 0 || index >= int64(t.batches.StepsPerEpoch())) {
		return fmt.Errorf("data position epoch %d, batch %d is outside the data (%d batches an epoch)", epoch, index, t.batches.StepsPerEpoch())
	}

	values, err := t.session.Run(feeds, t.ckpt.values, nil)
	if err != nil {
		return unreadable(prefix, err)
	}
	assign := map[tf.Output]*tf.Tensor{}
	for i, v := range t.vars {
		val := values[i]
		if val.DataType() != v.DType || !tfgraph.SameShape(val.Shape(), v.Shape) {
			return fmt.Errorf("variable %s is %s %v in the checkpoint, %s %v in the model",
				v.Name, tfgraph.DTypeName(val.DataType()), val.Shape(), tfgraph.DTypeName(v.DType), v.Shape)
		}
		if v.Name == "global_step" && tfgraph.Value(val).(int64) != step {
			return fmt.Errorf("inconsistent: global_step %d but step %d", tfgraph.Value(val).(int64), step)
		}
		assign[t.ckpt.assignIn[i]] = val
	}
	if t.ckpt.assign != nil {
		if _, err := t.session.Run(assign, nil, []*tf.Operation{t.ckpt.assign}); err != nil {
			return fmt.Errorf("assign variables: %w", err)
		}
	}
	if t.batches != nil {
		if err := t.batches.SetState(data.BatchState{Epoch: int(epoch), Index: int(index)}); err != nil {
			return err
		}
	}
	corrects, err := readCorrects(filepath.Join(path, correctFile), int(step))
	if err != nil {
		return err
	}
	t.step, t.losses, t.corrects = int(step), losses, corrects
	return t.snapshotNow()
}

// sameModel checks the checkpoint's list of variable names against the
// trainer's.
func (t *Trainer) sameModel(names *tf.Tensor) error {
	list, ok := tfgraph.Value(names).([]string)
	if !ok {
		return fmt.Errorf("%s has shape %v, want a list", keyVariables, names.Shape())
	}
	have := map[string]bool{}
	for _, n := range list {
		have[n] = true
	}
	var missing, extra []string
	want := map[string]bool{}
	for _, v := range t.vars {
		want[v.Name] = true
		if !have[v.Name] {
			missing = append(missing, v.Name)
		}
	}
	for _, n := range list {
		if !want[n] {
			extra = append(extra, n)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return nil
	}
	msg := "it is of another model:"
	if len(missing) > 0 {
		msg += fmt.Sprintf(" it lacks %d variable(s) of this model (%s)", len(missing), abbreviate(missing))
	}
	if len(extra) > 0 {
		if len(missing) > 0 {
			msg += ";"
		}
		msg += fmt.Sprintf(" it has %d variable(s) this model lacks (%s)", len(extra), abbreviate(extra))
	}
	return errors.New(msg)
}

func abbreviate(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + ", ..."
	}
	return strings.Join(names, ", ")
}

// unreadable wraps an error of RestoreV2, naming the file it is about as
// far as TensorFlow's message tells: the index (an SSTable) or the data.
func unreadable(prefix string, err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i > 0 { // drop TF's node listing
		msg = msg[:i]
	}
	msg = strings.TrimSpace(msg)
	switch {
	case strings.Contains(msg, "sstable") || strings.Contains(msg, ".index") || strings.Contains(msg, "block checksum"):
		return fmt.Errorf("%s.index is truncated or corrupt: %s", prefix, msg)
	case strings.Contains(msg, "Read less bytes") || strings.Contains(msg, "shard 0") || strings.Contains(msg, ".data-"):
		return fmt.Errorf("%s.data-00000-of-00001 is truncated or corrupt: %s", prefix, msg)
	}
	if strings.Contains(msg, "_trainer/") && strings.Contains(msg, "not found") {
		return fmt.Errorf("the tensor bundle %s was not written by qat: %s", prefix, msg)
	}
	return fmt.Errorf("cannot read the tensor bundle %s: %s", prefix, msg)
}
