package loop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/qat-go/qat/internal/atomicfile"
)

// correctFile, in a checkpoint folder beside the TensorFlow bundle, holds
// the number of right predictions of every step so far (little-endian
// float32s), so that a run resumed in the middle of an epoch reports the
// same epoch accuracy as one never stopped. TensorFlow's readers ignore
// it; a checkpoint without it (written before it existed) restores with
// those counts unknown.
const correctFile = "train_correct.f32"

func writeCorrects(path string, c []float32) error {
	b := make([]byte, 0, 4*len(c))
	for _, v := range c {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return os.WriteFile(path, b, atomicfile.FileMode)
}

// readCorrects reads steps counts from path; a missing file gives NaNs.
func readCorrects(path string, steps int) ([]float32, error) {
	b, err := os.ReadFile(path)
	c := make([]float32, steps)
	if errors.Is(err, os.ErrNotExist) {
		for i := range c {
			c[i] = float32(math.NaN())
		}
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) != 4*steps {
		return nil, fmt.Errorf("inconsistent: step %d with %d bytes in %s (want %d)", steps, len(b), path, 4*steps)
	}
	for i := range c {
		c[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return c, nil
}

// epochSoFar returns the accumulators of an epoch that began after step
// from, rebuilt from the steps run since (those of a restored
// checkpoint), in their order, as Fit accumulates them. Steps whose right
// predictions are unknown count in the loss only.
func (t *Trainer) epochSoFar(from int) (loss, acc mean) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := from; i < t.step; i++ {
		loss.addLoss(t.losses[i], t.batch)
		if c := t.corrects[i]; !math.IsNaN(float64(c)) {
			acc.add(c, float32(t.batch))
		}
	}
	return loss, acc
}
