package tfgraph

import (
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
)

func TestDTypeName(t *testing.T) {
	for d, want := range map[tf.DataType]string{tf.Float: "float32", tf.Int64: "int64", tf.Int32: "int32", tf.Uint8: "uint8", tf.Half: "float16", tf.DataType(999): "dtype 999"} {
		if got := DTypeName(d); got != want {
			t.Errorf("DTypeName(%d) = %q, want %q", d, got, want)
		}
	}
	i, err := tf.NewTensor([]int32{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Float32s(i); err == nil || !strings.Contains(err.Error(), "tensor has type int32, want float32") {
		t.Errorf("Float32s of an int32 tensor: %v", err)
	}
}
