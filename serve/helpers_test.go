package serve_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/runtest"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/serve"
	"github.com/qat-go/qat/tfgraph"
)

// session is the sessions' config in the tests: one thread, as qat eval's
// comparisons use.
var session = tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1}

// A trained run of runtest.SmallCNN and a second one trained from another
// seed (so its version answers differently), written once.
var (
	runsOnce   sync.Once
	runs       [2]string
	runModel   models.Model
	runsErr    error
	runsFolder string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if runsFolder != "" {
		os.RemoveAll(runsFolder)
	}
	os.Exit(code)
}

func trainedRuns(t *testing.T) [2]string {
	t.Helper()
	runsOnce.Do(func() {
		if runsFolder, runsErr = os.MkdirTemp("", "serve-test-"); runsErr != nil {
			return
		}
		for i, seed := range []string{"seed: 3", "seed: 4"} {
			runs[i] = filepath.Join(runsFolder, fmt.Sprint("run", i+1))
			yaml := strings.Replace(runtest.SmallCNN, "seed: 3", seed, 1)
			if runModel, _, runsErr = runtest.Write(runs[i], yaml); runsErr != nil {
				return
			}
		}
	})
	if runsErr != nil {
		t.Fatal(runsErr)
	}
	return runs
}

// exportRun exports the run folder run as the SavedModel dir, as qat
// export does.
func exportRun(t *testing.T, run, dir string) {
	t.Helper()
	w, err := data.ReadNPZ(filepath.Join(run, "weights.npz"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := data.ReadNPZ(filepath.Join(run, "ranges.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := savedmodel.Export(dir, runModel, data.Weights(w), data.Weights(r)); err != nil {
		t.Fatal(err)
	}
}

// baseWith returns a new base path holding the trained runs' exports as
// versions 1..len(which) (which[i] is the run of version i+1).
func baseWith(t *testing.T, which ...int) string {
	t.Helper()
	rs := trainedRuns(t)
	base := filepath.Join(t.TempDir(), "models", "cnn")
	for i, k := range which {
		exportRun(t, rs[k], filepath.Join(base, strconv.Itoa(i+1)))
	}
	return base
}

// inputs returns n examples for the model: x ~ N(0, 1) from seed.
func inputs(n int, seed uint64) data.Array {
	return runtest.Data(n, runModel.Input, runModel.Classes(), seed).X
}

// reference is savedmodel.Predict's logits for x from the SavedModel dir,
// run in one batch as the server runs a request.
func reference(t *testing.T, dir string, x data.Array) data.Array {
	t.Helper()
	m, err := savedmodel.Load(dir, session)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	y, err := m.PredictBatches(x, int(x.Shape[0]))
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// nested returns x as nested lists: rows when row is true (one list per
// example), the whole tensor otherwise.
func nested(x data.Array) []any {
	var build func(shape []int64, vals []float32) any
	build = func(shape []int64, vals []float32) any {
		if len(shape) == 0 {
			return vals[0]
		}
		stride := len(vals) / int(shape[0])
		out := make([]any, shape[0])
		for i := range out {
			out[i] = build(shape[1:], vals[i*stride:(i+1)*stride])
		}
		return out
	}
	return build(x.Shape, x.Data).([]any)
}

// post sends body (marshalled unless a string) to url and returns the
// status and decoded JSON answer (numbers kept as json.Number).
func post(t testing.TB, url string, body any) (int, map[string]any) {
	t.Helper()
	var b []byte
	if s, ok := body.(string); ok {
		b = []byte(s)
	} else {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	res, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, res)
}

func get(t testing.TB, url string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, res)
}

func decode(t testing.TB, res *http.Response) (int, map[string]any) {
	t.Helper()
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("status %d, body %q: %v", res.StatusCode, raw, err)
	}
	return res.StatusCode, out
}

// floats flattens a JSON answer's nested lists to float32, each number
// read as the nearest float32.
func floats(t testing.TB, v any) []float32 {
	t.Helper()
	var out []float32
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case json.Number:
			f, err := strconv.ParseFloat(string(x), 32)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, float32(f))
		default:
			t.Fatalf("unexpected JSON value %v", v)
		}
	}
	walk(v)
	return out
}

// newServer serves the model "cnn" from base.
func newServer(t *testing.T, base string, opts serve.Options) *serve.Server {
	t.Helper()
	opts.Session = session
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	s, err := serve.New([]serve.ModelConfig{{Name: "cnn", BasePath: base}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
