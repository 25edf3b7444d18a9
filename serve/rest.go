package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	apis "github.com/wamuir/graft/tensorflow/serving/apis_go_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// httpStatus maps a status code to the HTTP status TF Serving's REST
// server answers with.
var httpStatus = map[codes.Code]int{
	codes.OK:                 http.StatusOK,
	codes.Canceled:           499,
	codes.Unknown:            http.StatusInternalServerError,
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.DeadlineExceeded:   http.StatusGatewayTimeout,
	codes.NotFound:           http.StatusNotFound,
	codes.AlreadyExists:      http.StatusConflict,
	codes.PermissionDenied:   http.StatusForbidden,
	codes.ResourceExhausted:  http.StatusTooManyRequests,
	codes.FailedPrecondition: http.StatusBadRequest,
	codes.Aborted:            http.StatusConflict,
	codes.OutOfRange:         http.StatusBadRequest,
	codes.Unimplemented:      http.StatusNotImplemented,
	codes.Internal:           http.StatusInternalServerError,
	codes.Unavailable:        http.StatusServiceUnavailable,
	codes.DataLoss:           http.StatusInternalServerError,
	codes.Unauthenticated:    http.StatusUnauthorized,
}

// Handler returns the REST API (/v1/models/...) and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.metrics.handler())
	mux.HandleFunc("/v1/models/", s.rest)
	return mux
}

// route is a parsed /v1/models/NAME[/versions/N][/metadata|:predict] path.
type route struct {
	name    string
	version int64
	method  string // status, metadata or predict
}

func parseRoute(r *http.Request) (route, error) {
	bad := errorf(codes.NotFound, "Malformed request: %s %s", r.Method, r.URL.Path)
	rest := strings.TrimPrefix(r.URL.Path, "/v1/models/")
	rt := route{method: "status"}
	if p, ok := strings.CutSuffix(rest, ":predict"); ok {
		rest, rt.method = p, "predict"
	} else if p, ok := strings.CutSuffix(rest, "/metadata"); ok {
		rest, rt.method = p, "metadata"
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 1 && parts[0] != "":
	case len(parts) == 3 && parts[0] != "" && parts[1] == "versions":
		n, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil || n <= 0 {
			return rt, bad
		}
		rt.version = n
	default:
		return rt, bad
	}
	rt.name = parts[0]
	wantPost := rt.method == "predict"
	if (r.Method == http.MethodPost) != wantPost || (!wantPost && r.Method != http.MethodGet) {
		return rt, bad
	}
	return rt, nil
}

func (s *Server) rest(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt, err := parseRoute(r)
	var body []byte
	if err == nil {
		switch rt.method {
		case "status":
			body, err = s.statusJSON(rt)
		case "metadata":
			body, err = s.metadataJSON(rt)
		case "predict":
			body, err = s.predictJSON(w, r, rt)
		}
	}
	code := http.StatusOK
	if err != nil {
		c, ok := httpStatus[codeOf(err)]
		if !ok {
			c = http.StatusInternalServerError
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.http != 0 {
			c = ae.http
		}
		code = c
		body, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(body)
	if _, known := s.models[rt.name]; known && rt.name != "" {
		s.metrics.requests.WithLabelValues(rt.name, rt.method, "rest", strconv.Itoa(code)).Inc()
		s.metrics.latency.WithLabelValues(rt.name, rt.method, "rest").Observe(time.Since(start).Seconds())
	}
}

var jsonOut = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true, Indent: " "}

func (s *Server) statusJSON(rt route) ([]byte, error) {
	res, err := s.status(rt.name, rt.version)
	if err != nil {
		return nil, err
	}
	return jsonOut.Marshal(res)
}

func (s *Server) metadataJSON(rt route) ([]byte, error) {
	res, err := s.metadata(rt.name, rt.version)
	if err != nil {
		return nil, err
	}
	return jsonOut.Marshal(res)
}

// status is GetModelStatus's answer for model name (version n, or all).
func (s *Server) status(name string, n int64) (*apis.GetModelStatusResponse, error) {
	sv, ok := s.models[name]
	if !ok {
		return nil, errorf(codes.NotFound, "Could not find any versions of model %s", name)
	}
	vs := sv.versions()
	if n != 0 {
		found := false
		for _, k := range vs {
			found = found || k == n
		}
		if !found {
			return nil, errorf(codes.NotFound, "Could not find version %d of model %s", n, name)
		}
		vs = []int64{n}
	}
	if len(vs) == 0 {
		return nil, errorf(codes.NotFound, "Could not find any versions of model %s", name)
	}
	res := &apis.GetModelStatusResponse{}
	for _, k := range vs {
		res.ModelVersionStatus = append(res.ModelVersionStatus, &apis.ModelVersionStatus{
			Version: k, State: apis.ModelVersionStatus_AVAILABLE, Status: &apis.StatusProto{}})
	}
	return res, nil
}

// metadata is GetModelMetadata's answer (the signature defs).
func (s *Server) metadata(name string, n int64) (*apis.GetModelMetadataResponse, error) {
	sv, v, err := s.acquire(name, n)
	if err != nil {
		return nil, err
	}
	defer sv.release(v)
	sigs := make(map[string]*pb.SignatureDef, len(v.sigs))
	for k, d := range v.sigs {
		sigs[k] = proto.Clone(d).(*pb.SignatureDef)
	}
	anyMap, err := newAny(&apis.SignatureDefMap{SignatureDef: sigs})
	if err != nil {
		return nil, errorf(codes.Internal, "%v", err)
	}
	return &apis.GetModelMetadataResponse{ModelSpec: spec(name, v.n, ""), Metadata: map[string]*anyT{"signature_def": anyMap}}, nil
}

// predictJSON answers a REST predict request in row or columnar form.
func (s *Server) predictJSON(w http.ResponseWriter, r *http.Request, rt route) ([]byte, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{code: codes.InvalidArgument, http: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("request body is larger than this server's limit of %d bytes", s.opts.MaxBodyBytes)}
		}
		return nil, errorf(codes.InvalidArgument, "reading the request body: %v", err)
	}
	req, err := parsePredict(raw)
	if err != nil {
		return nil, err
	}
	if err := checkSignature(req.signature); err != nil {
		return nil, err
	}
	sv, v, err := s.acquire(rt.name, rt.version)
	if err != nil {
		return nil, err
	}
	x, err := req.tensor(v.in)
	if err != nil {
		sv.release(v)
		return nil, err
	}
	y, err := s.predict(r.Context(), sv, v, x)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if req.row {
		b.WriteString(`{"predictions": `)
	} else {
		b.WriteString(`{"outputs": `)
	}
	writeTensor(&b, y.Shape, y.Data)
	b.WriteString("}\n")
	return b.Bytes(), nil
}
