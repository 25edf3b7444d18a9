package serve_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qat-go/qat/internal/testutil"
	"github.com/qat-go/qat/serve"
)

// TestHotSwap exports a new version into the base path while 8 clients
// send predictions as fast as they can: the server loads it and swaps it
// in with no failed request, every answer is one version's logits bit for
// bit, the answers after the swap are the new version's, and the old
// version is unloaded (the loaded-versions gauge drops back to 1).
func TestHotSwap(t *testing.T) {
	base := baseWith(t, 0)
	s := newServer(t, base, serve.Options{PollInterval: 20 * time.Millisecond})
	_, rest, stop := listen(t, s)
	defer stop()
	url := "http://" + rest + "/v1/models/cnn:predict"

	x := inputs(4, 9)
	body, err := json.Marshal(map[string]any{"instances": nested(x)})
	if err != nil {
		t.Fatal(err)
	}
	want1 := reference(t, filepath.Join(base, "1"), x)

	const clients = 8
	var ok, failed, old, fresh atomic.Int64
	var swapped atomic.Bool
	var afterSwapOld atomic.Int64
	stopClients := make(chan struct{})
	var mu sync.Mutex
	var want2 []float32
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopClients:
					return
				default:
				}
				sawSwap := swapped.Load()
				res, err := http.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					failed.Add(1)
					continue
				}
				code, out := decode(t, res)
				if code != 200 {
					failed.Add(1)
					t.Logf("failed request: %d %v", code, out)
					continue
				}
				got := floats(t, out["predictions"])
				mu.Lock()
				w2 := want2
				mu.Unlock()
				switch {
				case testutil.SameBits(got, want1.Data):
					old.Add(1)
					if sawSwap {
						afterSwapOld.Add(1)
					}
				case w2 != nil && testutil.SameBits(got, w2):
					fresh.Add(1)
				default:
					failed.Add(1)
					t.Logf("answer of no version: %v", got)
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	// The new version's expected logits, from a copy exported beside the
	// base path, before the version itself appears in it.
	side := filepath.Join(t.TempDir(), "v2")
	exportRun(t, trainedRuns(t)[1], side)
	w2 := reference(t, side, x)
	if testutil.SameBits(w2.Data, want1.Data) {
		t.Fatal("the two versions answer alike; the test cannot tell them apart")
	}
	mu.Lock()
	want2 = w2.Data
	mu.Unlock()
	exportRun(t, trainedRuns(t)[1], filepath.Join(base, "2"))
	deadline := time.Now().Add(60 * time.Second)
	for !slices.Equal(s.Versions("cnn"), []int64{2}) {
		if time.Now().After(deadline) {
			t.Fatalf("version 2 not served after 60s: %v", s.Versions("cnn"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	swapped.Store(true)
	time.Sleep(500 * time.Millisecond)
	close(stopClients)
	wg.Wait()
	t.Logf("%d requests: %d answered by version 1, %d by version 2, %d failed", ok.Load()+failed.Load(), old.Load(), fresh.Load(), failed.Load())
	if failed.Load() != 0 || old.Load() == 0 || fresh.Load() == 0 || afterSwapOld.Load() != 0 {
		t.Errorf("%d failed, %d by version 1 (%d sent after the swap), %d by version 2; want 0 failed, both versions, none by 1 after the swap",
			failed.Load(), old.Load(), afterSwapOld.Load(), fresh.Load())
	}
	gauge := regexp.MustCompile(`qat_serve_loaded_versions\{model="cnn"\} (\d+)`)
	var last string
	for range 500 {
		res, err := http.Get("http://" + rest + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if m := gauge.FindSubmatch(b); m != nil {
			last = string(m[1])
		}
		if last == "1" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if last != "1" {
		t.Errorf("qat_serve_loaded_versions %q after the swap, want 1 (version 1 unloaded)", last)
	}
}

// TestGracefulShutdown cancels ListenAndServe's context while a request is
// still sending its body: new connections are refused at once, the
// request in flight is answered in full, and ListenAndServe returns nil
// after it.
func TestGracefulShutdown(t *testing.T) {
	base := baseWith(t, 0)
	s := newServer(t, base, serve.Options{})
	_, rest, stop := listen(t, s)
	x := inputs(3, 4)
	want := reference(t, filepath.Join(base, "1"), x)
	body, err := json.Marshal(map[string]any{"instances": nested(x)})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	type answer struct {
		code int
		out  map[string]any
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := http.Post("http://"+rest+"/v1/models/cnn:predict", "application/json", pr)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		code, out := decode(t, res)
		answered <- answer{code: code, out: out}
	}()
	half := len(body) / 2
	if _, err := pw.Write(body[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(200 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", rest, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted after the shutdown began")
	}
	select {
	case <-stopped:
		t.Fatal("ListenAndServe returned with a request in flight")
	default:
	}
	if _, err := pw.Write(body[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	a := <-answered
	if a.err != nil || a.code != 200 || !testutil.SameBits(floats(t, a.out["predictions"]), want.Data) {
		t.Errorf("request in flight: %v %d %v, want 200 and %v", a.err, a.code, a.out, want.Data)
	}
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("ListenAndServe did not return after the request finished")
	}
}
