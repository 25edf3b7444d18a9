package serve_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/testutil"
	"github.com/qat-go/qat/serve"
)

// TestBatching merges concurrent requests (16 clients, 1 to 3 examples
// each) into shared session runs of up to 8 examples: every answer is the
// logits of its own examples run alone, bit for bit, and the runs are
// fewer than the requests (the qat_serve_batch_examples histogram).
func TestBatching(t *testing.T) {
	base := baseWith(t, 0)
	s := newServer(t, base, serve.Options{Batching: &serve.Batching{MaxBatch: 8, Timeout: 5 * time.Millisecond, Threads: 1}})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	const clients, each = 16, 6
	type job struct {
		x    data.Array
		want []float32
	}
	jobs := make([][]job, clients)
	for c := range jobs {
		for i := range each {
			x := inputs(1+(c+i)%3, uint64(100*c+i))
			jobs[c] = append(jobs[c], job{x, reference(t, filepath.Join(base, "1"), x).Data})
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, j := range jobs[c] {
				code, res := post(t, hs.URL+"/v1/models/cnn:predict", map[string]any{"instances": nested(j.x)})
				if code != 200 || !testutil.SameBits(floats(t, res["predictions"]), j.want) {
					mu.Lock()
					bad++
					mu.Unlock()
					t.Logf("client %d: %d %v, want %v", c, code, res, j.want)
				}
			}
		}()
	}
	wg.Wait()
	if bad != 0 {
		t.Errorf("%d of %d answers differ from their examples run alone", bad, clients*each)
	}
	res, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`qat_serve_batch_examples_count\{model="cnn"\} (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("/metrics has no qat_serve_batch_examples_count")
	}
	runs, _ := strconv.Atoi(string(m[1]))
	t.Logf("%d requests in %d session runs", clients*each, runs)
	if runs >= clients*each || runs == 0 {
		t.Errorf("%d session runs for %d requests: nothing merged", runs, clients*each)
	}
}

// TestBatchingParameters reads TF Serving's batching parameters file.
func TestBatchingParameters(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"max_batch_size { value: 16 }\nbatch_timeout_micros { value: 2000 }\nnum_batch_threads { value: 2 }\n", "&{16 2ms 2}"},
		{"", "&{0 0s 0}"},
		{"max_enqueued_batches { value: 100 }", "max_enqueued_batches is not supported"},
		{"max_batch_size: 3", "batching parameters"},
	} {
		path := filepath.Join(t.TempDir(), "batching.config")
		if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := serve.ReadBatchingParameters(path)
		got := fmt.Sprint(b)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%q: %s, want %s", c.text, got, c.want)
		}
	}
}
