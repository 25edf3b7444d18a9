package tensorboard

import (
	"math"

	"github.com/qat-go/qat/loop"
)

// Epoch writes an epoch's figures as Keras's TensorBoard callback names
// them, at the epoch's number (1-based, as in history.csv): epoch_loss,
// epoch_accuracy and epoch_learning_rate to Dir/train and, when the epoch
// was validated, epoch_loss and epoch_accuracy (fake quant, the trained
// ranges) and epoch_float_loss and epoch_float_accuracy (every quantizer
// off) to Dir/validation. A figure the epoch lacks (NaN, e.g. accuracy
// for a mean-squared-error loss) is left out.
func (l *RunLogger) Epoch(e loop.EpochResult) error {
	at := int64(e.Epoch)
	train := present(map[string]float32{
		"epoch_loss":          e.Loss,
		"epoch_accuracy":      e.Accuracy,
		"epoch_learning_rate": e.LearningRate,
	})
	if err := l.Train(at, train); err != nil {
		return err
	}
	if !e.HasValidation() {
		return nil
	}
	return l.Validation(at, present(map[string]float32{
		"epoch_loss":           e.ValLoss,
		"epoch_accuracy":       e.ValAccuracy,
		"epoch_float_loss":     e.ValFloatLoss,
		"epoch_float_accuracy": e.ValFloatAccuracy,
	}))
}

// present drops the NaN values of m.
func present(m map[string]float32) map[string]float32 {
	for k, v := range m {
		if math.IsNaN(float64(v)) {
			delete(m, k)
		}
	}
	return m
}
