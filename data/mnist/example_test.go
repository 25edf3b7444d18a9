package mnist_test

import (
	"fmt"
	"log"

	"github.com/qat-go/qat/data/mnist"
)

func ExampleLoad() {
	train, test, err := mnist.Load()
	if err != nil {
		log.Fatal(err)
	}
	labels, err := mnist.Labels(train)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("train:", train.X.Shape, train.Y.Shape)
	fmt.Println("test:", test.X.Shape, test.Y.Shape)
	fmt.Println("first training labels:", labels[:5])
	// Output:
	// train: [60000 28 28 1] [60000 10]
	// test: [10000 28 28 1] [10000 10]
	// first training labels: [5 0 4 1 9]
}
