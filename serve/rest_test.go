package serve_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qat-go/qat/internal/testutil"
	"github.com/qat-go/qat/serve"
)

// TestRESTPredict serves an exported QAT model and asks for its status,
// metadata and predictions in TF Serving's JSON forms: row ("instances",
// plain and with named inputs) and columnar ("inputs"). The predictions
// are savedmodel.Predict's logits (the SavedModel loaded by TensorFlow's
// loader, as qat eval runs it) bit for bit.
func TestRESTPredict(t *testing.T) {
	base := baseWith(t, 0)
	s := newServer(t, base, serve.Options{})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	url := hs.URL + "/v1/models/cnn"

	for _, path := range []string{"", "/versions/1"} {
		code, st := get(t, url+path)
		want := `map[model_version_status:[map[state:AVAILABLE status:map[error_code:OK error_message:] version:1]]]`
		if code != 200 || fmt.Sprint(st) != want {
			t.Errorf("GET %s: %d %v\nwant 200 %s", path, code, st, want)
		}
	}
	code, md := get(t, url+"/metadata")
	sig := dig(md, "metadata", "signature_def", "signature_def", "serving_default")
	if code != 200 || dig(md, "model_spec", "version") != "1" || dig(sig, "method_name") != "tensorflow/serving/predict" ||
		dig(sig, "inputs", "x", "dtype") != "DT_FLOAT" || dig(sig, "outputs", "logits", "dtype") != "DT_FLOAT" {
		t.Errorf("metadata: %d %v", code, md)
	}
	if dims := fmt.Sprint(dig(sig, "inputs", "x", "tensor_shape", "dim")); dims != "[map[name: size:-1] map[name: size:8] map[name: size:8] map[name: size:1]]" {
		t.Errorf("metadata input shape %s", dims)
	}

	x := inputs(5, 11)
	want := reference(t, filepath.Join(base, "1"), x)
	rows := nested(x)
	namedRows := make([]any, len(rows))
	for i, r := range rows {
		namedRows[i] = map[string]any{"x": r}
	}
	for _, c := range []struct {
		name, path, key string
		body            any
	}{
		{"instances", ":predict", "predictions", map[string]any{"instances": rows}},
		{"named instances", ":predict", "predictions", map[string]any{"instances": namedRows, "signature_name": "serving_default"}},
		{"inputs", ":predict", "outputs", map[string]any{"inputs": rows}},
		{"named inputs", "/versions/1:predict", "outputs", map[string]any{"inputs": map[string]any{"x": rows}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, res := post(t, url+c.path, c.body)
			if code != 200 {
				t.Fatalf("status %d: %v", code, res)
			}
			got := floats(t, res[c.key])
			if !testutil.SameBits(got, want.Data) {
				t.Errorf("%s: %v\nwant %v (bit for bit)", c.key, got, want.Data)
			}
			if n := len(res[c.key].([]any)); n != 5 {
				t.Errorf("%d rows, want 5", n)
			}
		})
	}
}

// dig follows keys through nested JSON objects.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// TestRESTBadRequests sends bad requests: each gets TF Serving's error
// form ({"error": "..."}) and its HTTP status, and the server still
// answers a good request afterwards.
func TestRESTBadRequests(t *testing.T) {
	base := baseWith(t, 0)
	s := newServer(t, base, serve.Options{MaxBodyBytes: 64 << 10, MaxBatch: 16})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	url := hs.URL + "/v1/models/"
	row := nested(inputs(1, 1))[0]
	big := `{"instances": [` + strings.Repeat("0.5, ", 40000) + `0.5]}`
	for _, c := range []struct {
		name, method, path string
		body               any
		code               int
		msg                string
	}{
		{"malformed JSON", "POST", "cnn:predict", `{"instances": [1, 2`, 400, "JSON Parse error"},
		{"not an object", "POST", "cnn:predict", `[1, 2]`, 400, "JSON Parse error"},
		{"no instances or inputs", "POST", "cnn:predict", `{"x": 1}`, 400, "Missing 'inputs' or 'instances' key"},
		{"both forms", "POST", "cnn:predict", map[string]any{"instances": []any{row}, "inputs": []any{row}}, 400, "Not allowed to mix"},
		{"empty instances", "POST", "cnn:predict", `{"instances": []}`, 400, "empty list"},
		{"wrong shape", "POST", "cnn:predict", `{"instances": [[1, 2, 3]]}`, 400, "has shape [1 3]"},
		{"ragged", "POST", "cnn:predict", `{"inputs": [[1, 2], [3]]}`, 400, "ragged"},
		{"rows of two shapes", "POST", "cnn:predict", `{"instances": [[1, 2], [3]]}`, 400, "same shape"},
		{"string dtype", "POST", "cnn:predict", `{"instances": [["a"]]}`, 400, "got the string \"a\""},
		{"bool dtype", "POST", "cnn:predict", `{"inputs": [true]}`, 400, "got the boolean true"},
		{"unknown input name", "POST", "cnn:predict", `{"inputs": {"y": [1]}}`, 400, "signature's input \"x\""},
		{"unknown signature", "POST", "cnn:predict", map[string]any{"instances": []any{row}, "signature_name": "other"}, 400, "Serving signature name: \"other\" not found"},
		{"batch too large", "POST", "cnn:predict", map[string]any{"instances": nested(inputs(17, 1))}, 400, "1 to 16 per request"},
		{"oversized body", "POST", "cnn:predict", big, 413, "limit of 65536 bytes"},
		{"unknown model", "POST", "nope:predict", map[string]any{"instances": []any{row}}, 404, "Servable not found for request: Latest(nope)"},
		{"unknown version", "POST", "cnn/versions/7:predict", map[string]any{"instances": []any{row}}, 404, "Specific(cnn, 7)"},
		{"status of unknown model", "GET", "nope", nil, 404, "Could not find any versions of model nope"},
		{"status of unknown version", "GET", "cnn/versions/3", nil, 404, "Could not find version 3 of model cnn"},
		{"metadata of unknown version", "GET", "cnn/versions/3/metadata", nil, 404, "Specific(cnn, 3)"},
		{"bad version", "GET", "cnn/versions/x", nil, 404, "Malformed request"},
		{"GET predict", "GET", "cnn:predict", nil, 404, "Malformed request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var code int
			var res map[string]any
			if c.method == "GET" {
				code, res = get(t, url+c.path)
			} else {
				code, res = post(t, url+c.path, c.body)
			}
			msg, _ := res["error"].(string)
			if code != c.code || len(res) != 1 || !strings.Contains(msg, c.msg) {
				t.Errorf("%d %v\nwant %d {\"error\": ...%s...}", code, res, c.code, c.msg)
			}
		})
	}
	if code, res := post(t, url+"cnn:predict", map[string]any{"instances": []any{row}}); code != 200 {
		t.Errorf("a good request after the bad ones: %d %v", code, res)
	}
	// The metrics count each answer by model, method and code.
	res, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`qat_serve_requests_total{api="rest",code="400",method="predict",model="cnn"} 13`,
		`qat_serve_requests_total{api="rest",code="413",method="predict",model="cnn"} 1`,
		`qat_serve_requests_total{api="rest",code="200",method="predict",model="cnn"} 1`,
		`qat_serve_requests_total{api="rest",code="404",method="status",model="cnn"} 1`,
		`qat_serve_request_duration_seconds_count{api="rest",method="predict",model="cnn"} 17`,
		`qat_serve_loaded_versions{model="cnn"} 1`,
	} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestRESTTimeout: a request that outlives the server's timeout gets TF
// Serving's DEADLINE_EXCEEDED answer (504) in the error form, and the
// version it used stays served.
func TestRESTTimeout(t *testing.T) {
	base := baseWith(t, 0)
	s := newServer(t, base, serve.Options{Timeout: time.Nanosecond})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	code, res := post(t, hs.URL+"/v1/models/cnn:predict", map[string]any{"instances": nested(inputs(1, 1))})
	if msg, _ := res["error"].(string); code != 504 || !strings.Contains(msg, "request took longer than 1ns") {
		t.Errorf("%d %v, want 504 and the timeout", code, res)
	}
	if code, st := get(t, hs.URL+"/v1/models/cnn"); code != 200 {
		t.Errorf("status after the timeout: %d %v", code, st)
	}
}
