package loop_test

import (
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/qat"
)

// The batches a trainer draws ahead are the ones it would draw: its losses
// equal those of StepOn fed the same seed's batches one by one; and after
// a restore moves it back, the batch drawn ahead for the old position is
// dropped, so steps 3 and 4 repeat bit for bit.
func TestPrefetchedBatches(t *testing.T) {
	m := models.SmallCNN(qat.Default8Bit())
	tr := ckptTrainer(t, m, nil)
	ckptSteps(t, tr, 2)
	path, err := tr.Save(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ckptSteps(t, tr, 2)
	first := tr.Losses()
	if err := tr.Restore(path); err != nil {
		t.Fatal(err)
	}
	ckptSteps(t, tr, 2)
	ckptSameLosses(t, "steps 1-4, then 3-4 again after the restore", first, tr.Losses())

	ds, _ := cachedMNIST(t)
	b, err := data.NewBatcher(ds, 32, 5) // ckptTrainer's batch size and seed
	if err != nil {
		t.Fatal(err)
	}
	manual := ckptTrainer(t, m, nil)
	for i := 0; i < 4; i++ {
		x, y := b.Next()
		if _, err := manual.StepOn(x, y); err != nil {
			t.Fatal(err)
		}
	}
	ckptSameLosses(t, "drawn ahead vs fed by StepOn", first, manual.Losses())
}
