package serve_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/qat-go/qat/serve"
)

// Example serves the versions that qat export --out models/mnist/N writes
// with TF Serving's APIs: gRPC on 8500, REST on 8501 (POST
// /v1/models/mnist:predict), polling for new versions every second, until
// SIGTERM or Ctrl-C.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := serve.New([]serve.ModelConfig{{Name: "mnist", BasePath: "models/mnist"}},
		serve.Options{PollInterval: time.Second, MaxBatch: 256})
	if err != nil {
		log.Fatal(err)
	}
	if err := serve.ListenAndServe(ctx, s, serve.Addrs{GRPC: ":8500", REST: ":8501"}); err != nil {
		log.Fatal(err)
	}
}
