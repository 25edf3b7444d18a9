package serve

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/wamuir/graft/tensorflow/core/framework/tensor_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/tensor_shape_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	apis "github.com/wamuir/graft/tensorflow/serving/apis_go_proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RegisterGRPC adds TF Serving's tensorflow.serving.PredictionService
// (Predict, GetModelMetadata) and tensorflow.serving.ModelService
// (GetModelStatus) to g. graft ships the services' messages but no gRPC
// stubs, so the service descriptions are written here.
func (s *Server) RegisterGRPC(g *grpc.Server) {
	g.RegisterService(&grpc.ServiceDesc{
		ServiceName: "tensorflow.serving.PredictionService",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Predict", Handler: unary(s, "predict", s.grpcPredict)},
			{MethodName: "GetModelMetadata", Handler: unary(s, "metadata", s.grpcMetadata)},
		},
		Metadata: "tensorflow_serving/apis/prediction_service.proto",
	}, s)
	g.RegisterService(&grpc.ServiceDesc{
		ServiceName: "tensorflow.serving.ModelService",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "GetModelStatus", Handler: unary(s, "status", s.grpcStatus)},
		},
		Metadata: "tensorflow_serving/apis/model_service.proto",
	}, s)
}

// named requests carry a ModelSpec.
type specced interface{ GetModelSpec() *apis.ModelSpec }

// unary adapts f to a grpc method handler that decodes Req, counts the
// request in the metrics and turns errors into gRPC statuses.
func unary[Req any, PReq interface {
	*Req
	specced
}, Res any](s *Server, method string, f func(context.Context, PReq) (Res, error)) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		start := time.Now()
		req := PReq(new(Req))
		if err := dec(req); err != nil {
			return nil, err
		}
		res, err := f(ctx, req)
		code := codes.OK
		if err != nil {
			code = codeOf(err)
			err = status.Error(code, err.Error())
		}
		if name := req.GetModelSpec().GetName(); s.models[name] != nil {
			s.metrics.requests.WithLabelValues(name, method, "grpc", strconv.Itoa(httpStatus[code])).Inc()
			s.metrics.latency.WithLabelValues(name, method, "grpc").Observe(time.Since(start).Seconds())
		}
		if err != nil {
			return nil, err
		}
		return res, nil
	}
}

// specVersion is the version a ModelSpec asks for (0: the newest).
func specVersion(ms *apis.ModelSpec) (int64, error) {
	if ms.GetVersionLabel() != "" {
		return 0, errorf(codes.Unimplemented, "version labels are not supported (label %q)", ms.GetVersionLabel())
	}
	return ms.GetVersion().GetValue(), nil
}

func (s *Server) grpcPredict(ctx context.Context, req *apis.PredictRequest) (*apis.PredictResponse, error) {
	ms := req.GetModelSpec()
	if err := checkSignature(ms.GetSignatureName()); err != nil {
		return nil, err
	}
	n, err := specVersion(ms)
	if err != nil {
		return nil, err
	}
	sv, v, err := s.acquire(ms.GetName(), n)
	if err != nil {
		return nil, err
	}
	tp, ok := req.GetInputs()[v.in]
	if !ok || len(req.GetInputs()) != 1 {
		sv.release(v)
		keys := make([]string, 0, len(req.GetInputs()))
		for k := range req.GetInputs() {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return nil, errorf(codes.InvalidArgument, "input tensor aliases %q do not match the signature's input %q", keys, v.in)
	}
	x, err := fromProto(tp)
	if err != nil {
		sv.release(v)
		return nil, errorf(codes.InvalidArgument, "input %q: %v", v.in, err)
	}
	num := v.n
	out := v.out
	y, err := s.predict(ctx, sv, v, x)
	if err != nil {
		return nil, err
	}
	for _, f := range req.GetOutputFilter() {
		if f != out {
			return nil, errorf(codes.InvalidArgument, "output tensor alias not found in signature: %s", f)
		}
	}
	return &apis.PredictResponse{ModelSpec: spec(ms.GetName(), num, "serving_default"),
		Outputs: map[string]*tensor_go_proto.TensorProto{out: toProto(y)}}, nil
}

func (s *Server) grpcMetadata(_ context.Context, req *apis.GetModelMetadataRequest) (*apis.GetModelMetadataResponse, error) {
	if !slices.Equal(req.GetMetadataField(), []string{"signature_def"}) {
		return nil, errorf(codes.InvalidArgument, "metadata_field must be [\"signature_def\"], got %q", req.GetMetadataField())
	}
	n, err := specVersion(req.GetModelSpec())
	if err != nil {
		return nil, err
	}
	return s.metadata(req.GetModelSpec().GetName(), n)
}

func (s *Server) grpcStatus(_ context.Context, req *apis.GetModelStatusRequest) (*apis.GetModelStatusResponse, error) {
	n, err := specVersion(req.GetModelSpec())
	if err != nil {
		return nil, err
	}
	return s.status(req.GetModelSpec().GetName(), n)
}

// fromProto reads a DT_FLOAT TensorProto (tensor_content or float_val).
func fromProto(tp *tensor_go_proto.TensorProto) (data.Array, error) {
	if tp.GetDtype() != types_go_proto.DataType_DT_FLOAT {
		return data.Array{}, errorf(codes.InvalidArgument, "dtype %s; the signature wants DT_FLOAT", tp.GetDtype())
	}
	if tp.GetTensorShape().GetUnknownRank() {
		return data.Array{}, errorf(codes.InvalidArgument, "unknown rank")
	}
	var shape []int64
	n := int64(1)
	for _, d := range tp.GetTensorShape().GetDim() {
		if d.GetSize() < 0 {
			return data.Array{}, errorf(codes.InvalidArgument, "dimension %d", d.GetSize())
		}
		shape = append(shape, d.GetSize())
		n *= d.GetSize()
	}
	if c := tp.GetTensorContent(); len(c) > 0 {
		if int64(len(c)) != 4*n {
			return data.Array{}, errorf(codes.InvalidArgument, "tensor_content has %d bytes; shape %v needs %d", len(c), shape, 4*n)
		}
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(c[4*i:]))
		}
		return data.Array{Shape: shape, Data: vals}, nil
	}
	if int64(len(tp.GetFloatVal())) != n {
		return data.Array{}, errorf(codes.InvalidArgument, "%d float_val values; shape %v needs %d", len(tp.GetFloatVal()), shape, n)
	}
	return data.Array{Shape: shape, Data: append([]float32(nil), tp.GetFloatVal()...)}, nil
}

// toProto writes a as a DT_FLOAT TensorProto with tensor_content.
func toProto(a data.Array) *tensor_go_proto.TensorProto {
	dims := make([]*tensor_shape_go_proto.TensorShapeProto_Dim, len(a.Shape))
	for i, d := range a.Shape {
		dims[i] = &tensor_shape_go_proto.TensorShapeProto_Dim{Size: d}
	}
	c := make([]byte, 4*len(a.Data))
	for i, v := range a.Data {
		binary.LittleEndian.PutUint32(c[4*i:], math.Float32bits(v))
	}
	return &tensor_go_proto.TensorProto{Dtype: types_go_proto.DataType_DT_FLOAT,
		TensorShape: &tensor_shape_go_proto.TensorShapeProto{Dim: dims}, TensorContent: c}
}
