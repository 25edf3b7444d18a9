package tfgraph

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"
)

// dtypeNames are TensorFlow's names of the data types (tf.float32, ...).
var dtypeNames = map[tf.DataType]string{
	tf.Float: "float32", tf.Double: "float64", tf.Half: "float16", tf.Bfloat16: "bfloat16",
	tf.Int8: "int8", tf.Int16: "int16", tf.Int32: "int32", tf.Int64: "int64",
	tf.Uint8: "uint8", tf.Uint16: "uint16", tf.Uint32: "uint32", tf.Uint64: "uint64",
	tf.Bool: "bool", tf.String: "string", tf.Complex64: "complex64", tf.Complex128: "complex128",
	tf.Qint8: "qint8", tf.Quint8: "quint8", tf.Qint16: "qint16", tf.Quint16: "quint16", tf.Qint32: "qint32",
	tf.Float8e5m2: "float8_e5m2", tf.Float8e4m3fn: "float8_e4m3fn", tf.Int4: "int4", tf.Uint4: "uint4",
}

// DTypeName returns TensorFlow's name of a data type ("float32", "int64"),
// for messages; an unknown type prints as "dtype <number>".
func DTypeName(d tf.DataType) string {
	if n, ok := dtypeNames[d]; ok {
		return n
	}
	return fmt.Sprintf("dtype %d", d)
}
