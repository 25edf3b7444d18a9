package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/qat-go/qat/data"
	apis "github.com/wamuir/graft/tensorflow/serving/apis_go_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type anyT = anypb.Any

func newAny(m proto.Message) (*anypb.Any, error) { return anypb.New(m) }

// spec is the ModelSpec of an answer.
func spec(name string, n int64, signature string) *apis.ModelSpec {
	return &apis.ModelSpec{Name: name, SignatureName: signature,
		VersionChoice: &apis.ModelSpec_Version{Version: wrapperspb.Int64(n)}}
}

// predictRequest is a REST predict body: row form ("instances") or
// columnar form ("inputs").
type predictRequest struct {
	signature string
	row       bool
	body      any
}

func parsePredict(raw []byte) (*predictRequest, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, errorf(codes.InvalidArgument, "JSON Parse error: %v", err)
	}
	if dec.More() {
		return nil, errorf(codes.InvalidArgument, "JSON Parse error: data after the request object")
	}
	req := &predictRequest{}
	if sig, ok := top["signature_name"]; ok {
		str, isStr := sig.(string)
		if !isStr {
			return nil, errorf(codes.InvalidArgument, "'signature_name' key must be a string value")
		}
		req.signature = str
	}
	inst, hasInst := top["instances"]
	inputs, hasInputs := top["inputs"]
	switch {
	case hasInst && hasInputs:
		return nil, errorf(codes.InvalidArgument, "Not allowed to mix 'instances' and 'inputs' in one request")
	case hasInst:
		req.row, req.body = true, inst
	case hasInputs:
		req.body = inputs
	default:
		return nil, errorf(codes.InvalidArgument, "Missing 'inputs' or 'instances' key")
	}
	return req, nil
}

// tensor returns the request's float32 tensor for the input named in.
func (r *predictRequest) tensor(in string) (data.Array, error) {
	if !r.row {
		return parseTensor(named(r.body, in))
	}
	list, ok := r.body.([]any)
	if !ok {
		return data.Array{}, errorf(codes.InvalidArgument, "'instances' must be a JSON list")
	}
	if len(list) == 0 {
		return data.Array{}, errorf(codes.InvalidArgument, "'instances' is an empty list")
	}
	var x data.Array
	for i, item := range list {
		one, err := parseTensor(named(item, in))
		if err != nil {
			return data.Array{}, errorf(codes.InvalidArgument, "instance %d: %v", i, err)
		}
		if i == 0 {
			x.Shape = append([]int64{int64(len(list))}, one.Shape...)
			x.Data = make([]float32, 0, len(list)*len(one.Data))
		} else if !sameShape(x.Shape[1:], one.Shape) {
			return data.Array{}, errorf(codes.InvalidArgument, "instance %d has shape %v, instance 0 %v: all instances must have the same shape", i, one.Shape, x.Shape[1:])
		}
		x.Data = append(x.Data, one.Data...)
	}
	return x, nil
}

// named returns v's value for input in when v is an object of named
// inputs, else v (the only input's value). A missing name becomes an
// error value that parseTensor reports.
func named(v any, in string) any {
	obj, ok := v.(map[string]any)
	if !ok {
		return v
	}
	val, ok := obj[in]
	if !ok || len(obj) != 1 {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		return errorf(codes.InvalidArgument, "the inputs %q do not match the signature's input %q", keys, in)
	}
	return val
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// parseTensor reads a number or nested lists of numbers as float32,
// each number rounded once to the nearest float32.
func parseTensor(v any) (data.Array, error) {
	if err, ok := v.(error); ok {
		return data.Array{}, err
	}
	var shape []int64
	for cur := v; ; {
		l, ok := cur.([]any)
		if !ok {
			break
		}
		shape = append(shape, int64(len(l)))
		if len(l) == 0 {
			break
		}
		cur = l[0]
	}
	var out []float32
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth == len(shape) {
			n, ok := v.(json.Number)
			if !ok {
				return errorf(codes.InvalidArgument, "expected a number (the input is float32), got %s", jsonKind(v))
			}
			f, err := strconv.ParseFloat(string(n), 32)
			if err != nil && !math.IsInf(f, 0) {
				return errorf(codes.InvalidArgument, "%q is not a float32 number: %v", string(n), err)
			}
			out = append(out, float32(f))
			return nil
		}
		l, ok := v.([]any)
		if !ok || int64(len(l)) != shape[depth] {
			return errorf(codes.InvalidArgument, "ragged nested list: every list at depth %d must have %d elements (shape %v)", depth, shape[depth], shape)
		}
		for _, e := range l {
			if err := walk(e, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(v, 0); err != nil {
		return data.Array{}, err
	}
	return data.Array{Shape: shape, Data: out}, nil
}

func jsonKind(v any) string {
	switch t := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", t)
	case bool:
		return fmt.Sprintf("the boolean %v", t)
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

// writeTensor writes vals of shape as nested JSON lists, each float32 in
// the shortest form that reads back to the same float32.
func writeTensor(b *bytes.Buffer, shape []int64, vals []float32) {
	if len(shape) == 0 {
		writeFloat(b, vals[0])
		return
	}
	stride := 1
	for _, d := range shape[1:] {
		stride *= int(d)
	}
	b.WriteByte('[')
	for i := 0; i < int(shape[0]); i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		writeTensor(b, shape[1:], vals[i*stride:(i+1)*stride])
	}
	b.WriteByte(']')
}

func writeFloat(b *bytes.Buffer, f float32) {
	switch {
	case math.IsNaN(float64(f)):
		b.WriteString("NaN")
	case math.IsInf(float64(f), 1):
		b.WriteString("Infinity")
	case math.IsInf(float64(f), -1):
		b.WriteString("-Infinity")
	default:
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), float64(f), 'g', -1, 32))
	}
}
