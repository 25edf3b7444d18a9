package infer

import (
	"fmt"
	"io"

	"codeberg.org/sbinet/npyio/npz"
	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/atomicfile"
)

// Output says what predictions hold.
type Output string

// The outputs Write and the CLI know.
const (
	// Logits are the model's float32 outputs [N, classes], under the key
	// "logits".
	Logits Output = "logits"
	// ClassIDs are the argmax of each row, int64 [N], under "classes".
	ClassIDs Output = "classes"
)

// ParseOutput reads "logits" or "classes".
func ParseOutput(s string) (Output, error) {
	switch o := Output(s); o {
	case Logits, ClassIDs:
		return o, nil
	}
	return "", fmt.Errorf("output %q: want %q or %q", s, Logits, ClassIDs)
}

// Write writes logits (or, for ClassIDs, their argmax) to the .npz file
// path, which numpy.load reads, atomically: a temporary file beside it
// renamed into place, so a failure leaves path as it was.
func Write(path string, logits data.Array, out Output) error {
	var write func(io.Writer) error
	switch out {
	case Logits:
		write = func(w io.Writer) error { return data.EncodeNPZ(w, map[string]data.Array{string(Logits): logits}) }
	case ClassIDs:
		ids, err := Classes(logits)
		if err != nil {
			return err
		}
		write = func(f io.Writer) error {
			w := npz.NewWriter(f)
			if err := w.Write(string(ClassIDs)+".npy", ids); err != nil {
				return err
			}
			return w.Close()
		}
	default:
		return fmt.Errorf("write %s: %w", path, fmt.Errorf("output %q: want %q or %q", out, Logits, ClassIDs))
	}
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
