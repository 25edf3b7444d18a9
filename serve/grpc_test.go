package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/internal/testutil"
	"github.com/qat-go/qat/serve"
	"github.com/wamuir/graft/tensorflow/core/framework/tensor_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/tensor_shape_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	apis "github.com/wamuir/graft/tensorflow/serving/apis_go_proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// listen runs ListenAndServe for s on free local ports and returns the
// gRPC and REST addresses and a stop function that shuts it down and
// checks that it returned nil.
func listen(t *testing.T, s *serve.Server) (grpcAddr, restAddr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve.ListenAndServe(ctx, s, serve.Addrs{GRPC: "127.0.0.1:0", REST: "127.0.0.1:0",
			Ready: func(g, r net.Addr) { ready <- [2]string{g.String(), r.String()} }})
	}()
	select {
	case a := <-ready:
		return a[0], a[1], func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ListenAndServe: %v", err)
			}
		}
	case err := <-done:
		cancel()
		t.Fatalf("ListenAndServe: %v", err)
	}
	return "", "", nil
}

// TestGRPCPythonClient queries the gRPC API with TF Serving's own Python
// client (tensorflow-serving-api): Predict's logits are savedmodel.Predict's
// bit for bit, and GetModelMetadata and GetModelStatus describe the model.
func TestGRPCPythonClient(t *testing.T) {
	base := baseWith(t, 0, 1)
	s := newServer(t, base, serve.Options{})
	g, _, stop := listen(t, s)
	defer stop()
	x := inputs(7, 5)
	path := filepath.Join(t.TempDir(), "x.npz")
	if err := data.WriteNPZ(path, data.Weights{"x": x}); err != nil {
		t.Fatal(err)
	}
	for _, version := range []int64{0, 2} {
		out, err := oracle.Run("tfserving_client.py", g, "cnn", path, fmt.Sprint(version))
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Version int64
			Shape   []int64
			Bits    []uint32
			Inputs  map[string]struct {
				Dtype string
				Shape []int64
			}
			MethodName string `json:"method_name"`
			Status     []struct {
				Version   int64
				State     string
				ErrorCode int `json:"error_code"`
			}
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		want := reference(t, filepath.Join(base, "2"), x)
		got := make([]float32, len(res.Bits))
		for i, b := range res.Bits {
			got[i] = math.Float32frombits(b)
		}
		if res.Version != 2 || fmt.Sprint(res.Shape) != "[7 5]" || !testutil.SameBits(got, want.Data) {
			t.Errorf("Predict: version %d shape %v logits %v\nwant version 2 [7 5] %v (bit for bit)", res.Version, res.Shape, got, want.Data)
		}
		if in := res.Inputs["x"]; in.Dtype != "float32" || fmt.Sprint(in.Shape) != "[-1 8 8 1]" || res.MethodName != "tensorflow/serving/predict" {
			t.Errorf("GetModelMetadata: %+v %s", res.Inputs, res.MethodName)
		}
		if fmt.Sprintf("%+v", res.Status) != "[{Version:2 State:AVAILABLE ErrorCode:0}]" {
			t.Errorf("GetModelStatus: %+v", res.Status)
		}
	}
}

// TestGRPCErrors sends bad Predict requests over gRPC: each gets TF
// Serving's status code.
func TestGRPCErrors(t *testing.T) {
	base := baseWith(t, 0)
	s := newServer(t, base, serve.Options{})
	g, _, stop := listen(t, s)
	defer stop()
	conn, err := grpc.NewClient(g, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tensor := func(dt types_go_proto.DataType, dims ...int64) *tensor_go_proto.TensorProto {
		n := int64(1)
		sh := &tensor_shape_go_proto.TensorShapeProto{}
		for _, d := range dims {
			sh.Dim = append(sh.Dim, &tensor_shape_go_proto.TensorShapeProto_Dim{Size: d})
			n *= d
		}
		return &tensor_go_proto.TensorProto{Dtype: dt, TensorShape: sh, FloatVal: make([]float32, n)}
	}
	good := tensor(types_go_proto.DataType_DT_FLOAT, 2, 8, 8, 1)
	spec := func(name string, v int64) *apis.ModelSpec {
		ms := &apis.ModelSpec{Name: name}
		if v != 0 {
			ms.VersionChoice = &apis.ModelSpec_Version{Version: wrapperspb.Int64(v)}
		}
		return ms
	}
	for _, c := range []struct {
		name string
		req  *apis.PredictRequest
		code codes.Code
	}{
		{"good", &apis.PredictRequest{ModelSpec: spec("cnn", 0), Inputs: map[string]*tensor_go_proto.TensorProto{"x": good}}, codes.OK},
		{"unknown model", &apis.PredictRequest{ModelSpec: spec("nope", 0), Inputs: map[string]*tensor_go_proto.TensorProto{"x": good}}, codes.NotFound},
		{"unknown version", &apis.PredictRequest{ModelSpec: spec("cnn", 9), Inputs: map[string]*tensor_go_proto.TensorProto{"x": good}}, codes.NotFound},
		{"wrong dtype", &apis.PredictRequest{ModelSpec: spec("cnn", 0), Inputs: map[string]*tensor_go_proto.TensorProto{"x": tensor(types_go_proto.DataType_DT_INT32, 2, 8, 8, 1)}}, codes.InvalidArgument},
		{"wrong shape", &apis.PredictRequest{ModelSpec: spec("cnn", 0), Inputs: map[string]*tensor_go_proto.TensorProto{"x": tensor(types_go_proto.DataType_DT_FLOAT, 2, 7, 8, 1)}}, codes.InvalidArgument},
		{"wrong input name", &apis.PredictRequest{ModelSpec: spec("cnn", 0), Inputs: map[string]*tensor_go_proto.TensorProto{"y": good}}, codes.InvalidArgument},
		{"short float_val", &apis.PredictRequest{ModelSpec: spec("cnn", 0), Inputs: map[string]*tensor_go_proto.TensorProto{"x": {Dtype: types_go_proto.DataType_DT_FLOAT, TensorShape: good.TensorShape, FloatVal: []float32{1}}}}, codes.InvalidArgument},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := conn.Invoke(ctx, "/tensorflow.serving.PredictionService/Predict", c.req, &apis.PredictResponse{})
			if got := status.Code(err); got != c.code {
				t.Errorf("code %v (%v), want %v", got, err, c.code)
			}
		})
	}
}
