// Command serveload measures qat serve's predict throughput and latency
// over REST (row-form JSON) or gRPC (TF Serving's PredictRequest with a
// binary tensor): it serves a base path in-process (serve.New,
// ListenAndServe on loopback) and sends requests of each batch size from each number of
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
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
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
	"github.com/wamuir/graft/tensorflow/core/framework/tensor_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/tensor_shape_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	apis "github.com/wamuir/graft/tensorflow/serving/apis_go_proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	base := flag.String("model_base_path", "", "base `folder` of numbered versions (required)")
	seconds := flag.Float64("seconds", 5, "how long each configuration runs")
	batches := flag.String("batches", "1,32", "batch sizes")
	clientsFlag := flag.String("clients", "1,8,64", "numbers of concurrent clients")
	threads := flag.Int("threads", 0, "intra-op threads of the model (0: TensorFlow's default)")
	api := flag.String("api", "rest", "rest or grpc")
	batching := flag.Bool("batching", false, "merge concurrent requests (serve.Batching defaults)")
	flag.Parse()
	if *base == "" {
		log.Fatal("--model_base_path is required")
	}
	s, err := serve.New([]serve.ModelConfig{{Name: "m", BasePath: *base}},
		serve.Options{Session: tfgraph.SessionConfig{IntraOpThreads: *threads}, Logf: func(string, ...any) {}, Batching: batchingOpt(*batching)})
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
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve.ListenAndServe(ctx, s, serve.Addrs{REST: "127.0.0.1:0", GRPC: "127.0.0.1:0",
			Ready: func(g, r net.Addr) { ready <- [2]string{g.String(), r.String()} }})
	}()
	addrs := <-ready
	url := "http://" + addrs[1] + "/v1/models/m:predict"
	host, _ := os.Hostname()
	fmt.Printf("%s (batching %v): model %s version %d, input %v, %d cores (GOMAXPROCS %d), host %s, %s\n\n",
		*api, *batching, *base, vs[0], input, runtime.NumCPU(), runtime.GOMAXPROCS(0), host, time.Now().UTC().Format(time.RFC3339))
	fmt.Println("| batch | clients | requests/s | examples/s | p50 ms | p99 ms | requests | errors |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, b := range ints(*batches) {
		var send func() error
		switch *api {
		case "rest":
			body := requestBody(b, input)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
			send = func() error { return postOnce(hc, url, body) }
		case "grpc":
			conn, err := grpc.NewClient(addrs[0], grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				log.Fatal(err)
			}
			defer conn.Close()
			req := grpcRequest(b, input)
			send = func() error {
				return conn.Invoke(context.Background(), "/tensorflow.serving.PredictionService/Predict", req, &apis.PredictResponse{})
			}
		default:
			log.Fatalf("--api %q: rest or grpc", *api)
		}
		for _, c := range ints(*clientsFlag) {
			r := load(send, c, time.Duration(*seconds*float64(time.Second)))
			fmt.Printf("| %d | %d | %.1f | %.0f | %.2f | %.2f | %d | %d |\n", b, c, r.rps, r.rps*float64(b),
				ms(r.p(0.50)), ms(r.p(0.99)), len(r.lat), r.errors)
		}
	}
	cancel()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
}

func batchingOpt(on bool) *serve.Batching {
	if on {
		return &serve.Batching{}
	}
	return nil
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

// postOnce sends one REST request and reads the answer.
func postOnce(hc *http.Client, url string, body []byte) error {
	resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// grpcRequest is a PredictRequest of b random examples as one binary
// float32 tensor, as tf.make_tensor_proto sends it.
func grpcRequest(b int, input []int64) *apis.PredictRequest {
	n := b
	dims := []*tensor_shape_go_proto.TensorShapeProto_Dim{{Size: int64(b)}}
	for _, d := range input {
		n *= int(d)
		dims = append(dims, &tensor_shape_go_proto.TensorShapeProto_Dim{Size: d})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	c := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(c[4*i:], math.Float32bits(rng.Float32()))
	}
	return &apis.PredictRequest{ModelSpec: &apis.ModelSpec{Name: "m"},
		Inputs: map[string]*tensor_go_proto.TensorProto{savedmodel.InputName: {
			Dtype: types_go_proto.DataType_DT_FLOAT, TensorShape: &tensor_shape_go_proto.TensorShapeProto{Dim: dims}, TensorContent: c}}}
}

// load runs clients goroutines calling send for d and collects latencies.
func load(send func() error, clients int, d time.Duration) result {
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
				if err := send(); err != nil {
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
