// Command serveload measures qat serve's REST predict throughput and
// latency: it serves a base path in-process (serve.New, ListenAndServe on
// loopback) and sends requests of each batch size from each number of
// concurrent clients for a fixed time, then prints requests/s,
// examples/s and p50/p99 latency as a Markdown table. Clients and server
// share the machine's cores, so the figures are a lower bound of a
// dedicated server's.
//
//	go run ./bench/serveload --model_base_path out/models/mnist --seconds 5
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/serve"
	"github.com/qat-go/qat/tfgraph"
)

func main() {
	base := flag.String("model_base_path", "", "base `folder` of numbered versions (required)")
	seconds := flag.Float64("seconds", 5, "how long each configuration runs")
	batches := flag.String("batches", "1,32", "batch sizes")
	clientsFlag := flag.String("clients", "1,8,64", "numbers of concurrent clients")
	threads := flag.Int("threads", 0, "intra-op threads of the model (0: TensorFlow's default)")
	flag.Parse()
	if *base == "" {
		log.Fatal("--model_base_path is required")
	}
	s, err := serve.New([]serve.ModelConfig{{Name: "m", BasePath: *base}},
		serve.Options{Session: tfgraph.SessionConfig{IntraOpThreads: *threads}, Logf: func(string, ...any) {}})
	if err != nil {
		log.Fatal(err)
	}
	vs := s.Versions("m")
	if len(vs) == 0 {
		log.Fatalf("no version in %s", *base)
	}
	m, err := savedmodel.Load(fmt.Sprintf("%s/%d", *base, vs[0]), tfgraph.SessionConfig{})
	if err != nil {
		log.Fatal(err)
	}
	input := m.Input()
	m.Close()

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve.ListenAndServe(ctx, s, serve.Addrs{REST: "127.0.0.1:0",
			Ready: func(_, r net.Addr) { ready <- r.String() }})
	}()
	url := "http://" + <-ready + "/v1/models/m:predict"
	host, _ := os.Hostname()
	fmt.Printf("model %s version %d, input %v, %d cores (GOMAXPROCS %d), host %s, %s\n\n",
		*base, vs[0], input, runtime.NumCPU(), runtime.GOMAXPROCS(0), host, time.Now().UTC().Format(time.RFC3339))
	fmt.Println("| batch | clients | requests/s | examples/s | p50 ms | p99 ms | requests | errors |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, b := range ints(*batches) {
		body := requestBody(b, input)
		for _, c := range ints(*clientsFlag) {
			r := load(url, body, c, time.Duration(*seconds*float64(time.Second)))
			fmt.Printf("| %d | %d | %.1f | %.0f | %.2f | %.2f | %d | %d |\n", b, c, r.rps, r.rps*float64(b),
				ms(r.p(0.50)), ms(r.p(0.99)), len(r.lat), r.errors)
		}
	}
	cancel()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			log.Fatalf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out
}

// requestBody is a row-form request of b random examples of shape input.
func requestBody(b int, input []int64) []byte {
	n := 1
	for _, d := range input {
		n *= int(d)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([][]float32, b)
	for i := range rows {
		rows[i] = make([]float32, n)
		for j := range rows[i] {
			rows[i][j] = rng.Float32()
		}
	}
	// Flat rows are reshaped by nesting: build the nested lists by shape.
	inst := make([]any, b)
	for i, r := range rows {
		inst[i] = nest(r, input)
	}
	out, err := json.Marshal(map[string]any{"instances": inst})
	if err != nil {
		log.Fatal(err)
	}
	return out
}

func nest(v []float32, shape []int64) any {
	if len(shape) == 1 {
		return v
	}
	stride := len(v) / int(shape[0])
	out := make([]any, shape[0])
	for i := range out {
		out[i] = nest(v[i*stride:(i+1)*stride], shape[1:])
	}
	return out
}

type result struct {
	lat    []time.Duration
	errors int
	rps    float64
}

func (r result) p(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(q*float64(len(r.lat))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// load runs clients goroutines sending body for d and collects latencies.
func load(url string, body []byte, clients int, d time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	hc := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	var mu sync.Mutex
	var res result
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			errs := 0
			for time.Now().Before(end) {
				t0 := time.Now()
				resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					errs++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.rps = float64(len(res.lat)) / time.Since(start).Seconds()
	slices.Sort(res.lat)
	return res
}
